// tests/interop/verify.js - a wxauth v4.public token verified by a PASETO
// library of someone else's (npm "paseto", panva), with only the keys of
// GET /v1/keys, as a Node.js service elsewhere would.
//
//   echo '{"token": "...", "keys": "<the /v1/keys JSON>", "issuer": "..."}' |
//     node tests/interop/verify.js
//
// Prints the claims; exits 1 when the library refuses the token.
'use strict'
const { V4 } = require('paseto')

async function main () {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const { token, keys, issuer } = JSON.parse(input)
  const footer = JSON.parse(Buffer.from(token.split('.')[3], 'base64url').toString())
  const key = JSON.parse(keys).keys.find((k) => k.kid === footer.kid)
  if (!key) throw new Error('no published key has kid ' + footer.kid)
  const pk = V4.bytesToKeyObject(Buffer.from(key.paserk.slice('k4.public.'.length), 'base64url'))
  const claims = await V4.verify(token, pk, { issuer })
  process.stdout.write(JSON.stringify(claims) + '\n')
}

main().catch((e) => {
  process.stderr.write('verify.js: ' + e.message + '\n')
  process.exit(1)
})
