-- tests/bench/wrk.lua - the requests of one `make bench` row, and its result
-- as one machine-readable line.
--
--   wrk ... -s tests/bench/wrk.lua URL -- MODE [TOKEN]
--
-- MODE get: GET the URL's path; auth: the same with "Authorization: Bearer
-- TOKEN"; many: the same with the tokens of the file TOKEN (one a line) in
-- turn; login: POST /v1/login with a new code on every request (a code
-- sent twice would be answered from the idempotency cache, not by WeChat);
-- logout_all: POST /v1/logout {"all":true} with each token of the file
-- TOKEN once; link: POST /v1/link of mp2 with each "TOKEN CODE" line of the
-- file once (one thread: -t1); login_again: POST /v1/login of one of the
-- TOKEN (a number) preloaded people at random, each time by a new code.
--
-- done() prints
--   BENCH requests=N seconds=S rps=R p50_us=U p99_us=U non2xx=N socket=N
-- where non2xx counts answers with a status above 399 (nothing here
-- answers 1xx or 3xx) and socket the connect, read, write and timeout errors.

local mode, token, tokens = "get", nil, nil
local counter, prefix = 0, ""
local nthreads = 0

-- In the main state: number the threads (tid becomes a global of each).
function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
end

function init(args)
	mode = args[1] or "get"
	token = args[2]
	-- Unique across threads and runs: thread id, wall clock, a random part.
	math.randomseed(os.time() + (tid or 0) * 7919)
	prefix = string.format("bench.t%d.%x.%x", tid or 0, os.time(), math.random(0, 0x7fffffff))
	if mode == "auth" then
		wrk.headers["Authorization"] = "Bearer " .. token
	elseif mode == "many" then
		tokens = {}
		for line in io.lines(token) do
			tokens[#tokens + 1] = "Bearer " .. line
		end
		-- Each thread starts somewhere else in the list.
		counter = math.random(0, #tokens - 1)
	elseif mode == "login" or mode == "login_again" then
		wrk.method = "POST"
		wrk.path = "/v1/login"
		wrk.headers["Content-Type"] = "application/json"
	elseif mode == "logout_all" or mode == "link" then
		-- Each line of the file TOKEN once, in order ("TOKEN" or "TOKEN
		-- CODE"): a session ended or a code used is good for nothing more.
		tokens = {}
		for line in io.lines(token) do
			tokens[#tokens + 1] = line
		end
		wrk.method = "POST"
		wrk.path = mode == "link" and "/v1/link" or "/v1/logout"
		wrk.headers["Content-Type"] = "application/json"
	end
end

function request()
	if mode == "many" then
		counter = counter + 1
		wrk.headers["Authorization"] = tokens[counter % #tokens + 1]
		return wrk.format()
	end
	if mode == "logout_all" or mode == "link" then
		counter = counter + 1
		local tok, code = string.match(tokens[(counter - 1) % #tokens + 1], "^(%S+)%s*(%S*)$")
		wrk.headers["Authorization"] = "Bearer " .. tok
		if mode == "link" then
			return wrk.format(nil, nil, nil,
				string.format('{"appid":"wx2222222222222222","code":"%s"}', code))
		end
		return wrk.format(nil, nil, nil, '{"all":true}')
	end
	if mode ~= "login" and mode ~= "login_again" then
		return wrk.request()
	end
	counter = counter + 1
	if mode == "login_again" then
		-- One of the TOKEN (a number) preloaded people, by a new code:
		-- "preNxDIGITS" is the static jscode2session's openid "opreN".
		return wrk.format(nil, nil, nil, string.format(
			'{"appid":"wx1111111111111111","code":"pre%dx%d%02d%d"}',
			math.random(1, tonumber(token)), os.time() % 100000000, tid or 0, counter))
	end
	local body = string.format('{"appid":"wx1111111111111111","code":"%s.%d"}', prefix, counter)
	return wrk.format(nil, nil, nil, body)
end

-- No response() hook: it would cost every answer a trip through Lua. wrk
-- counts statuses above 399 itself (summary.errors.status).
function done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		"BENCH requests=%d seconds=%.2f rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket=%d\n",
		summary.requests, secs, summary.requests / secs,
		latency:percentile(50), latency:percentile(99), e.status,
		e.connect + e.read + e.write + e.timeout))
end
