<?php
/*
 * deploy/orders/store.php - the sample order API's table (SQLite through
 * PDO; any PDO database does, the statements are plain SQL), shared by
 * orders.php (the API) and follow.php (wxauth's events feed).
 */
declare(strict_types=1);

function orders_open(string $path): PDO
{
	if ($path === '')
		throw new PDOException('ORDERS_DB is not set');
	$db = new PDO('sqlite:' . $path, null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
	$db->exec('PRAGMA busy_timeout = 5000');
	$db->exec('PRAGMA journal_mode = WAL');
	$db->exec('CREATE TABLE IF NOT EXISTS orders (
		id INTEGER PRIMARY KEY,
		appid TEXT NOT NULL, openid TEXT NOT NULL,   -- the buyer, as the app knows them
		user_id TEXT NOT NULL,                       -- the person, across the apps
		item TEXT NOT NULL, qty INTEGER NOT NULL,
		created_at TEXT NOT NULL DEFAULT (strftime(\'%Y-%m-%dT%H:%M:%SZ\', \'now\')))');
	$db->exec('CREATE INDEX IF NOT EXISTS orders_buyer ON orders (appid, openid)');
	$db->exec('CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id)');
	// The last event of wxauth's feed applied (follow.php), one row.
	$db->exec('CREATE TABLE IF NOT EXISTS wxauth_cursor (id INTEGER NOT NULL)');
	$db->exec('INSERT INTO wxauth_cursor SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM wxauth_cursor)');
	return $db;
}

function orders_create(PDO $db, string $appid, string $openid, string $user, string $item,
    int $qty): array
{
	$st = $db->prepare('INSERT INTO orders (appid, openid, user_id, item, qty) VALUES (?, ?, ?, ?, ?)');
	$st->execute([$appid, $openid, $user, $item, $qty]);
	$st = $db->prepare('SELECT * FROM orders WHERE id = ?');
	$st->execute([$db->lastInsertId()]);
	return order_row($st->fetch(PDO::FETCH_ASSOC));
}

function orders_of(PDO $db, string $user): array
{
	$st = $db->prepare('SELECT * FROM orders WHERE user_id = ? ORDER BY id');
	$st->execute([$user]);
	return array_map('order_row', $st->fetchAll(PDO::FETCH_ASSOC));
}

function order_row(array $r): array
{
	return ['id' => (int)$r['id'], 'appid' => $r['appid'], 'openid' => $r['openid'],
	    'user_id' => $r['user_id'], 'item' => $r['item'], 'qty' => (int)$r['qty'],
	    'created_at' => $r['created_at']];
}
