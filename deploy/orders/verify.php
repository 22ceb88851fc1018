<?php
/*
 * deploy/orders/verify.php - verifying a wxauth v4.public token in PHP with
 * nothing but PHP's own sodium (no library), for an API on another machine
 * (README, "Your own APIs": services elsewhere). wxauth_verify() is the
 * whole verifier: copy it. It needs the keys of GET /v1/keys (cache them as
 * its Cache-Control says; fetch again when a token names a kid you do not
 * have), and it does not know about sessions ended before their token
 * expires: follow GET /v1/revoked for that, or ask /v1/session.
 *
 * As a command (the tests run it): reads {"token": "...", "keys": "<the
 * /v1/keys JSON>"} on standard input, prints the claims, exits 1 if the
 * token is not good.
 */
declare(strict_types=1);

function b64url_decode(string $s): string
{
	$r = base64_decode(strtr($s, '-_', '+/'), true);
	if ($r === false || strpbrk($s, '+/=') !== false)
		throw new InvalidArgumentException('not base64url');
	return $r;
}

/* PASETO's pre-authentication encoding. */
function pae(string ...$pieces): string
{
	$out = pack('P', count($pieces));
	foreach ($pieces as $p)
		$out .= pack('P', strlen($p)) . $p;
	return $out;
}

/*
 * wxauth_verify: the claims of a good token (signature, issuer, expiry), or
 * null. $keys: the "keys" array of GET /v1/keys. $issuer: your wxauth's
 * `issuer` setting.
 */
function wxauth_verify(string $token, array $keys, string $issuer = 'wxauth'): ?array
{
	$parts = explode('.', $token);
	if (count($parts) !== 4 || $parts[0] !== 'v4' || $parts[1] !== 'public')
		return null;
	try {
		$body = b64url_decode($parts[2]);
		$footer = b64url_decode($parts[3]);
	} catch (InvalidArgumentException $e) {
		return null;
	}
	$kid = json_decode($footer, true)['kid'] ?? null;
	$pk = null;
	foreach ($keys as $k)
		if (($k['kid'] ?? null) === $kid && is_string($k['paserk'] ?? null) &&
		    str_starts_with($k['paserk'], 'k4.public.'))
			$pk = b64url_decode(substr($k['paserk'], strlen('k4.public.')));
	if ($pk === null || strlen($pk) !== SODIUM_CRYPTO_SIGN_PUBLICKEYBYTES ||
	    strlen($body) < SODIUM_CRYPTO_SIGN_BYTES)
		return null;
	$m = substr($body, 0, -SODIUM_CRYPTO_SIGN_BYTES);
	$sig = substr($body, -SODIUM_CRYPTO_SIGN_BYTES);
	if (!sodium_crypto_sign_verify_detached($sig, pae('v4.public.', $m, $footer, ''), $pk))
		return null;
	$c = json_decode($m, true);
	if (!is_array($c) || ($c['iss'] ?? null) !== $issuer || !is_string($c['exp'] ?? null))
		return null;
	$exp = strtotime($c['exp']);
	if ($exp === false || $exp <= time())
		return null;
	return $c;
}

if (PHP_SAPI === 'cli' && realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
	$in = json_decode((string)stream_get_contents(STDIN), true);
	$keys = json_decode((string)($in['keys'] ?? ''), true)['keys'] ?? [];
	$claims = wxauth_verify((string)($in['token'] ?? ''), $keys, $in['issuer'] ?? 'wxauth');
	if ($claims === null) {
		fwrite(STDERR, "verify.php: not a good token\n");
		exit(1);
	}
	echo json_encode($claims), "\n";
}
