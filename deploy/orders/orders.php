<?php
/*
 * deploy/orders/orders.php - a sample order API behind wxauth: documentation
 * that runs (README, "Your own APIs"; tests/deploy/*.sh run it on each front).
 *
 *   POST /api/orders  {"item": "...", "qty": 1..99}  -> 201 {"order": {...}}
 *   GET  /api/orders                                 -> 200 {"orders": [...]}
 *
 * It never opens a token. Who is calling is what the front hands over, as
 * request variables set by the web server, never as headers a client could
 * send:
 *   nginx + php-fpm   auth_request, then fastcgi_param WXAUTH_* (snippet
 *                     deploy/nginx/wxauth-php.conf)
 *   Apache            mod_authnz_fcgi: wxauth answers as a FastCGI
 *                     Authorizer, Variable-WXAUTH_* become WXAUTH_*
 *   shared host       mod_fcgid: FcgidAccessChecker runs wxauth.fcgi, same
 *                     variables
 * A request without them never gets here on a front set up as README says;
 * if one does (the front is misconfigured), it is refused, never served as
 * nobody.
 *
 * Orders are keyed by the buyer's (appid, openid), as the shop's other
 * systems know them, and carry wxauth's user id, so that one person's
 * orders from every app of the shop are listed together. follow.php keeps
 * the user ids right as people are merged and deleted.
 *
 * Settings, as request variables (SetEnv, fastcgi_param):
 *   ORDERS_DB          the SQLite file (outside the served folder)
 *   ORDERS_RUNS_FILE   if set, a byte is appended on every run (tests count
 *                      runs with it, to prove a refused request ran nothing)
 */
declare(strict_types=1);

require __DIR__ . '/store.php';

function answer(int $status, array $body): void
{
	http_response_code($status);
	header('Content-Type: application/json');
	header('Cache-Control: no-store');
	echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
	exit;
}

function fail(int $status, string $error, string $message): void
{
	answer($status, ['error' => $error, 'message' => $message]);
}

/* A request variable the server set (never an HTTP_* header). */
function server_var(string $name): string
{
	$v = $_SERVER[$name] ?? '';
	return is_string($v) ? $v : '';
}

$runs = server_var('ORDERS_RUNS_FILE');
if ($runs !== '')
	file_put_contents($runs, '.', FILE_APPEND | LOCK_EX);

$user = server_var('WXAUTH_USER');
$appid = server_var('WXAUTH_APPID');
$openid = server_var('WXAUTH_OPENID');
if (!preg_match('/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/', $user) ||
    $appid === '' || $openid === '')
	fail(500, 'no_identity', 'the web server handed over no identity: is wxauth in front of this API?');

try {
	$db = orders_open(server_var('ORDERS_DB'));
	switch ($_SERVER['REQUEST_METHOD'] ?? '') {
	case 'POST':
		$in = json_decode((string)file_get_contents('php://input'), true);
		$item = is_array($in) ? ($in['item'] ?? null) : null;
		$qty = is_array($in) ? ($in['qty'] ?? null) : null;
		if (!is_string($item) || $item === '' || strlen($item) > 300 || !preg_match('//u', $item) ||
		    !is_int($qty) || $qty < 1 || $qty > 99)
			fail(400, 'invalid_request', 'a JSON body {"item": text of 1..300 bytes, "qty": 1..99}');
		answer(201, ['order' => orders_create($db, $appid, $openid, $user, $item, $qty)]);
	case 'GET':
		answer(200, ['user_id' => $user, 'appid' => $appid, 'openid' => $openid,
		    'orders' => orders_of($db, $user)]);
	default:
		header('Allow: GET, POST');
		fail(405, 'method_not_allowed', 'GET or POST');
	}
} catch (PDOException $e) {
	error_log('orders: ' . $e->getMessage());
	fail(503, 'unavailable', 'the order store is not available');
}
