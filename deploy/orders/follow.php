<?php
/*
 * deploy/orders/follow.php - keeps the sample order API's user ids right,
 * from wxauth's events feed (README, "The events feed"): run it from cron
 * every minute, or with --watch as a service.
 *
 *   merged            orders of from_user become into_user's
 *   unmerged          the accounts that moved back take their orders back
 *   account_unlinked  the account's orders go with it to new_user
 *   user_deleted      the buyer's orders are erased (the person asked)
 *
 * Each event is applied in one transaction with the cursor, so a crash or
 * a second copy running at once never applies one twice or skips one.
 *
 * Environment: WXAUTH_URL (e.g. http://127.0.0.1:8080, where /v1/events is
 * reachable: not from the internet), WXAUTH_ADMIN_KEY_FILE (the admin key,
 * mode 0600), ORDERS_DB (the SQLite file of orders.php).
 */
declare(strict_types=1);

require __DIR__ . '/store.php';

function need(string $name): string
{
	$v = getenv($name);
	if (!is_string($v) || $v === '') {
		fwrite(STDERR, "follow.php: $name is not set\n");
		exit(2);
	}
	return $v;
}

/* One page of the feed after $after, or null when wxauth did not answer. */
function page(string $url, string $key, int $after): ?array
{
	$ctx = stream_context_create(['http' => ['method' => 'GET', 'timeout' => 10,
	    'ignore_errors' => true,
	    'header' => "Authorization: Bearer $key\r\nAccept: application/json\r\n"]]);
	$body = @file_get_contents("$url/v1/events?after=$after&limit=100", false, $ctx);
	$status = isset($http_response_header[0]) ? (int)explode(' ', $http_response_header[0])[1] : 0;
	if ($body === false || $status !== 200) {
		fwrite(STDERR, "follow.php: /v1/events answered $status\n");
		return null;
	}
	$j = json_decode($body, true);
	return is_array($j) && is_array($j['events'] ?? null) ? $j['events'] : null;
}

function apply_event(PDO $db, array $e): void
{
	$accounts = is_array($e['accounts'] ?? null) ? $e['accounts'] : [];
	$by_account = $db->prepare('UPDATE orders SET user_id = ? WHERE appid = ? AND openid = ?');
	switch ($e['type']) {
	case 'merged':
		$db->prepare('UPDATE orders SET user_id = ? WHERE user_id = ?')
		    ->execute([$e['into_user'], $e['from_user']]);
		break;
	case 'unmerged':
		foreach ($accounts as $a)
			$by_account->execute([$e['from_user'], $a['appid'], $a['openid']]);
		break;
	case 'account_unlinked':
		$by_account->execute([$e['new_user'], $e['appid'], $e['openid']]);
		break;
	case 'user_deleted':
		$db->prepare('DELETE FROM orders WHERE user_id = ?')->execute([$e['user_id']]);
		$del = $db->prepare('DELETE FROM orders WHERE appid = ? AND openid = ?');
		foreach ($accounts as $a)
			$del->execute([$a['appid'], $a['openid']]);
		break;
	}
}

/* Applies what is new; returns how many events, or -1 if wxauth failed. */
function follow_once(PDO $db, string $url, string $key): int
{
	$n = 0;
	for (;;) {
		$after = (int)$db->query('SELECT id FROM wxauth_cursor')->fetchColumn();
		$events = page($url, $key, $after);
		if ($events === null)
			return -1;
		if ($events === [])
			return $n;
		foreach ($events as $e) {
			$db->beginTransaction();
			// Only if the cursor is still where this page began: another
			// copy that got here first has applied it already.
			$st = $db->prepare('UPDATE wxauth_cursor SET id = ? WHERE id < ?');
			$st->execute([(int)$e['id'], (int)$e['id']]);
			if ($st->rowCount() === 1) {
				apply_event($db, $e);
				$n++;
			}
			$db->commit();
		}
	}
}

$url = rtrim(need('WXAUTH_URL'), '/');
$key = trim((string)@file_get_contents(need('WXAUTH_ADMIN_KEY_FILE')));
if ($key === '') {
	fwrite(STDERR, "follow.php: cannot read WXAUTH_ADMIN_KEY_FILE\n");
	exit(2);
}
$db = orders_open(need('ORDERS_DB'));
do {
	$n = follow_once($db, $url, $key);
	if ($n > 0)
		echo "follow.php: applied $n events\n";
	if (in_array('--watch', $argv, true))
		sleep(5);
} while (in_array('--watch', $argv, true));
exit($n < 0 ? 1 : 0);
