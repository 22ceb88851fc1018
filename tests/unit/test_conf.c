/*
 * test_conf.c - conf_load on small files written to a scratch folder: a full
 * file, the defaults, the sample in deploy/, and every kind of error with
 * the exact "path:line: message" it must give.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

/* Four lines of required globals, then one complete app on lines 5 to 8. */
#define GLOBALS \
	"listen = /run/wxauth.sock\n" \
	"database = dbname=wxauth\n" \
	"key_file = token.keys\n" \
	"data_key_file = data.key\n"
#define SHOP_SECRET "0123456789abcdef0123456789abcdef"
#define SHOP \
	"[app shop]\n" \
	"appid = wx0000000000000001\n" \
	"type = miniprogram\n" \
	"secret = " SHOP_SECRET "\n"

static char dir[PATH_MAX];       /* scratch folder, real path */
static char conf_path[PATH_MAX]; /* dir/t.conf */
static struct conf conf;
static const struct conf zero;
static char err[2048];

static const char *
in_dir(const char *name)
{
	static char buf[PATH_MAX + 64];
	int n = snprintf(buf, sizeof buf, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < sizeof buf);
	return buf;
}

static void
write_bytes(const char *name, const char *data, size_t len)
{
	FILE *fp = fopen(in_dir(name), "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
write_file(const char *name, const char *text)
{
	write_bytes(name, text, strlen(text));
}

/* load: text as dir/t.conf through conf_load. */
static int
load(const char *text)
{
	write_file("t.conf", text);
	memset(err, 'x', sizeof err - 1);
	err[sizeof err - 1] = '\0';
	return conf_load(&conf, conf_path, err, sizeof err);
}

static void
expect_ok(const char *text)
{
	int rc = load(text);

	if (rc != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
}

/* expect_error: loading text fails with exactly "t.conf:line: msg", and
 * leaves nothing behind in conf. */
static void
expect_error(const char *text, int line, const char *msg)
{
	char want[sizeof err];
	int n = snprintf(want, sizeof want, "%s:%d: %s", conf_path, line, msg);

	assert_true(n > 0 && (size_t)n < sizeof want);
	memset(&conf, 0xa5, sizeof conf);
	assert_int_equal(load(text), -1);
	assert_string_equal(err, want);
	assert_memory_equal(&conf, &zero, sizeof conf);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	char tmpl[] = "/tmp/test_conf.XXXXXX";
	int n;

	(void)state;
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, dir) == NULL)
		return -1;
	n = snprintf(conf_path, sizeof conf_path, "%s/t.conf", dir);
	return n > 0 && (size_t)n < sizeof conf_path ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	conf_cleanup(&conf);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_full(void **state)
{
	char want[PATH_MAX + 64];

	(void)state;
	assert_int_equal(mkdir(in_dir("keys"), 0700) == 0 || errno == EEXIST, 1);
	write_file("admin.key", "adminkey-0123456789\n");
	write_file("shop.secret", "shopsecret\r\n");
	assert_int_equal(setenv("TEST_CONF_NEWS", "newssecret", 1), 0);
	expect_ok(
	    "# every setting\n"
	    "listen = 127.0.0.1:9000\n"
	    "listen_backlog = 512\n"
	    "listen_mode = 0600\n"
	    "workers = 16\n"
	    "max_requests = 1000000000\n"
	    "pid_file = run/wxauth.pid\n"
	    "log_file = /var/log/wxauth.log\n"
	    "\n"
	    "database = \"host=/tmp dbname=wxauth application_name='wx auth'\"\n"
	    "key_file = keys/token.keys\n"
	    "data_key_file = /etc/wxauth/data.key\n"
	    "admin_key_file = admin.key\n"
	    "\tissuer\t=\t\"https://auth.example.com\"  \n"
	    "access_ttl = 600\n"
	    "refresh_ttl = 31536000\n"
	    "max_body = 2048\n"
	    "wechat_base_url = http://127.0.0.1:8081/wx\n"
	    "wechat_connect_timeout_ms = 500\n"
	    "wechat_timeout_ms = 120000\n"
	    "wechat_ca_file = ca.pem\n"
	    "watermark_max_age = 3600\n"
	    "avatar_hosts = thirdwx.qlogo.cn  WX.qlogo.cn\texample.com\n"
	    "   # an indented comment\n"
	    "[app shop]\n"
	    "appid = wx0000000000000001\n"
	    "type = miniprogram\n"
	    "secret_file = shop.secret\n"
	    "[ app  news ]\n"
	    "appid=wx0000000000000002\n"
	    "type=official_account\n"
	    "secret_env = TEST_CONF_NEWS\n"
	    "[app web-1]\n"
	    "  appid   =   wx_3  \n"
	    "type = website\n"
	    "secret = \"q#uoted\"\n"
	    "[app ios]\n"
	    "appid = WX4\n"
	    "type = mobile\n"
	    "secret = a#b\n");
	assert_string_equal(conf.path, conf_path);
	assert_string_equal(conf.listen, "127.0.0.1:9000");
	assert_int_equal(conf.listen_backlog, 512);
	assert_int_equal(conf.listen_mode, 0600);
	assert_int_equal(conf.workers, 16);
	assert_int_equal(conf.max_requests, 1000000000L);
	assert_string_equal(conf.pid_file, in_dir("run/wxauth.pid"));
	assert_string_equal(conf.log_file, "/var/log/wxauth.log");
	assert_string_equal(conf.database,
	    "host=/tmp dbname=wxauth application_name='wx auth'");
	snprintf(want, sizeof want, "%s/keys/token.keys", dir);
	assert_string_equal(conf.key_file, want);
	assert_string_equal(conf.data_key_file, "/etc/wxauth/data.key");
	assert_string_equal(conf.admin_key, "adminkey-0123456789");
	assert_string_equal(conf.issuer, "https://auth.example.com");
	assert_int_equal(conf.access_ttl, 600);
	assert_int_equal(conf.refresh_ttl, 31536000);
	assert_int_equal(conf.max_body, 2048);
	assert_string_equal(conf.wechat_base_url, "http://127.0.0.1:8081/wx");
	assert_int_equal(conf.wechat_connect_timeout_ms, 500);
	assert_int_equal(conf.wechat_timeout_ms, 120000);
	assert_string_equal(conf.wechat_ca_file, in_dir("ca.pem"));
	assert_int_equal(conf.watermark_max_age, 3600);
	assert_int_equal(conf.navatar_hosts, 3);
	assert_string_equal(conf.avatar_hosts[0], "thirdwx.qlogo.cn");
	assert_string_equal(conf.avatar_hosts[1], "wx.qlogo.cn");
	assert_string_equal(conf.avatar_hosts[2], "example.com");

	assert_int_equal(conf.napps, 4);
	assert_string_equal(conf.apps[0].name, "shop");
	assert_string_equal(conf.apps[0].appid, "wx0000000000000001");
	assert_int_equal(conf.apps[0].type, APP_MINIPROGRAM);
	assert_string_equal(conf.apps[0].secret, "shopsecret");
	assert_int_equal(conf.apps[0].line, 25);
	assert_string_equal(conf.apps[1].name, "news");
	assert_string_equal(conf.apps[1].appid, "wx0000000000000002");
	assert_int_equal(conf.apps[1].type, APP_OFFICIAL_ACCOUNT);
	assert_string_equal(conf.apps[1].secret, "newssecret");
	assert_int_equal(conf.apps[1].line, 29);
	assert_string_equal(conf.apps[2].name, "web-1");
	assert_string_equal(conf.apps[2].appid, "wx_3");
	assert_int_equal(conf.apps[2].type, APP_WEBSITE);
	assert_string_equal(conf.apps[2].secret, "q#uoted");
	assert_string_equal(conf.apps[3].appid, "WX4");
	assert_int_equal(conf.apps[3].type, APP_MOBILE);
	assert_string_equal(conf.apps[3].secret, "a#b");
	assert_int_equal(unsetenv("TEST_CONF_NEWS"), 0);
}

static void
test_defaults(void **state)
{
	(void)state;
	expect_ok(GLOBALS SHOP);
	assert_string_equal(conf.listen, "/run/wxauth.sock");
	assert_int_equal(conf.listen_backlog, 128);
	assert_int_equal(conf.listen_mode, 0660);
	assert_int_equal(conf.workers, 4);
	assert_int_equal(conf.max_requests, 0);
	assert_int_equal(conf.sched_batch, 1);
	assert_string_equal(conf.pid_file, "");
	assert_string_equal(conf.log_file, "");
	assert_string_equal(conf.database, "dbname=wxauth");
	assert_string_equal(conf.key_file, in_dir("token.keys"));
	assert_string_equal(conf.data_key_file, in_dir("data.key"));
	assert_string_equal(conf.admin_key, "");
	assert_string_equal(conf.issuer, "wxauth");
	assert_int_equal(conf.access_ttl, 7200);
	assert_int_equal(conf.refresh_ttl, 2592000);
	assert_int_equal(conf.max_body, 65536);
	assert_string_equal(conf.wechat_base_url, "https://api.weixin.qq.com");
	assert_int_equal(conf.wechat_connect_timeout_ms, 2000);
	assert_int_equal(conf.wechat_timeout_ms, 5000);
	assert_string_equal(conf.wechat_ca_file, "");
	assert_int_equal(conf.watermark_max_age, 86400);
	assert_int_equal(conf.navatar_hosts, 2);
	assert_string_equal(conf.avatar_hosts[0], "thirdwx.qlogo.cn");
	assert_string_equal(conf.avatar_hosts[1], "wx.qlogo.cn");
	assert_int_equal(conf.napps, 1);
	assert_string_equal(conf.apps[0].secret, SHOP_SECRET);
	assert_int_equal(conf.apps[0].line, 5);
}

/* Relative file names follow the config file, whatever the current folder
 * and however the config's own name was given. */
static void
test_relative_config_path(void **state)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(mkdir(in_dir("sub"), 0700) == 0 || errno == EEXIST, 1);
	write_file("sub/w.conf", GLOBALS SHOP);
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(conf_load(&conf, "sub/w.conf", err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/sub/token.keys", dir);
	assert_string_equal(conf.key_file, want);
	assert_string_equal(conf.path, "sub/w.conf");
	assert_int_equal(chdir(in_dir("sub")), 0);
	assert_int_equal(conf_load(&conf, "w.conf", err, sizeof err), 0);
	assert_string_equal(conf.key_file, want);
	assert_int_equal(chdir(cwd), 0);
}

static void
test_crlf_bom_and_blank_values(void **state)
{
	(void)state;
	expect_ok("\xef\xbb\xbflisten = /run/a.sock\r\n"
	    "database = dbname=x\r\n"
	    "key_file = k\r\n"
	    "data_key_file = d\r\n"
	    "pid_file =\r\n"
	    "log_file = \"\"\r\n"
	    "issuer = \"\xe5\xbe\xae\xe4\xbf\xa1 auth\"\r\n"
	    "\r\n"
	    "[app shop]\r\n"
	    "appid = wx1\r\n"
	    "type = miniprogram\r\n"
	    "secret = s\r\n");
	assert_string_equal(conf.listen, "/run/a.sock");
	assert_string_equal(conf.pid_file, "");
	assert_string_equal(conf.log_file, "");
	assert_string_equal(conf.issuer, "\xe5\xbe\xae\xe4\xbf\xa1 auth");
	assert_string_equal(conf.apps[0].secret, "s");
}

static void
test_unknown_setting(void **state)
{
	(void)state;
	expect_error(GLOBALS "worker = 4\n" SHOP, 5, "unknown setting 'worker'");
	expect_error(GLOBALS SHOP "apid = wx1\n", 9, "unknown setting 'apid'");
	expect_error(GLOBALS "Workers = 4\n" SHOP, 5, "unknown setting 'Workers'");
	expect_error(GLOBALS "just some words\n" SHOP, 5,
	    "expected 'name = value' or '[app NAME]'");
	expect_error(GLOBALS "= 4\n" SHOP, 5,
	    "bad setting name; expected 'name = value'");
	expect_error(GLOBALS "work ers = 4\n" SHOP, 5,
	    "bad setting name; expected 'name = value'");
}

static void
test_duplicate_setting(void **state)
{
	(void)state;
	expect_error(GLOBALS "workers = 2\nworkers = 3\n" SHOP, 6,
	    "duplicate setting 'workers' (first set at line 5)");
	expect_error(GLOBALS SHOP "type = website\n", 9,
	    "duplicate setting 'type' (first set at line 7)");
	expect_error(GLOBALS "listen = /run/b.sock\n" SHOP, 5,
	    "duplicate setting 'listen' (first set at line 1)");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_error(GLOBALS "workers = 0\n" SHOP, 5,
	    "workers must be between 1 and 256");
	expect_error(GLOBALS "workers = 257\n" SHOP, 5,
	    "workers must be between 1 and 256");
	expect_error(GLOBALS "workers = -1\n" SHOP, 5,
	    "workers must be between 1 and 256");
	expect_error(GLOBALS "listen_backlog = 99999999999999999999999\n" SHOP, 5,
	    "listen_backlog must be between 1 and 65535");
	expect_error(GLOBALS "max_requests = 1000000001\n" SHOP, 5,
	    "max_requests must be between 0 and 1000000000");
	expect_error(GLOBALS "access_ttl = 59\n" SHOP, 5,
	    "access_ttl must be between 60 and 86400");
	expect_error(GLOBALS "refresh_ttl = 31536001\n" SHOP, 5,
	    "refresh_ttl must be between 300 and 31536000");
	expect_error(GLOBALS "max_body = 1023\n" SHOP, 5,
	    "max_body must be between 1024 and 10485760");
	expect_error(GLOBALS "wechat_connect_timeout_ms = 60001\n" SHOP, 5,
	    "wechat_connect_timeout_ms must be between 100 and 60000");
	expect_error(GLOBALS "wechat_timeout_ms = 99\n" SHOP, 5,
	    "wechat_timeout_ms must be between 100 and 120000");
	expect_error(GLOBALS "watermark_max_age = 59\n" SHOP, 5,
	    "watermark_max_age must be between 60 and 630720000");
	expect_error(GLOBALS "listen_mode = 01000\n" SHOP, 5,
	    "listen_mode must be an octal mode between 0 and 0777");
}

static void
test_not_a_number(void **state)
{
	(void)state;
	expect_error(GLOBALS "workers = four\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers = 4x\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers = 0x10\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers = +4\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers =\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers = \"\"\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "workers = 4 4\n" SHOP, 5,
	    "workers must be a whole number");
	expect_error(GLOBALS "access_ttl = 1.5\n" SHOP, 5,
	    "access_ttl must be a whole number");
	expect_error(GLOBALS "listen_mode = 0680\n" SHOP, 5,
	    "listen_mode must be an octal mode such as 0660");
	/* Comments only at the start of a line. */
	expect_error(GLOBALS "workers = 4  # four\n" SHOP, 5,
	    "comments must be on their own line (quote the value if '#' "
	    "belongs to it)");
	expect_error(GLOBALS "issuer = wx\t#auth\n" SHOP, 5,
	    "comments must be on their own line (quote the value if '#' "
	    "belongs to it)");
	expect_error(GLOBALS "issuer = \"wxauth\n" SHOP, 5,
	    "unterminated quoted value");
	expect_error(GLOBALS "issuer = \"\n" SHOP, 5,
	    "unterminated quoted value");
}

static void
test_empty_required(void **state)
{
	(void)state;
	expect_error(GLOBALS "issuer =\n" SHOP, 5, "issuer must not be empty");
	expect_error("listen = /a\ndatabase =\n", 2, "database must not be empty");
	expect_error("listen = /a\ndatabase = x\nkey_file = \"\"\n", 3,
	    "key_file must not be empty");
}

static void
test_worker_scheduling(void **state)
{
	(void)state;
	expect_ok(GLOBALS "worker_scheduling = normal\n" SHOP);
	assert_int_equal(conf.sched_batch, 0);
	conf_cleanup(&conf);
	expect_ok(GLOBALS "worker_scheduling = batch\n" SHOP);
	assert_int_equal(conf.sched_batch, 1);
	conf_cleanup(&conf);
	expect_error(GLOBALS "worker_scheduling = fifo\n" SHOP, 5,
	    "worker_scheduling must be normal or batch, not 'fifo'");
}

static void
test_bad_app_type(void **state)
{
	(void)state;
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = mini\nsecret = s\n",
	    7, "type must be miniprogram, official_account, website or mobile, "
	    "not 'mini'");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = Website\n", 7,
	    "type must be miniprogram, official_account, website or mobile, "
	    "not 'Website'");
}

static void
test_bad_appid(void **state)
{
	(void)state;
	expect_error(GLOBALS "[app shop]\nappid = wx-1\n", 6,
	    "appid must be 1 to 32 characters of A-Z a-z 0-9 _");
	expect_error(GLOBALS "[app shop]\nappid = \"\"\n", 6,
	    "appid must be 1 to 32 characters of A-Z a-z 0-9 _");
	expect_error(GLOBALS "[app shop]\n"
	    "appid = wx0123456789012345678901234567890\n", 6,
	    "appid must be 1 to 32 characters of A-Z a-z 0-9 _");
	/* Exactly 32 is fine. */
	expect_ok(GLOBALS "[app shop]\nappid = wx012345678901234567890123456789"
	    "\ntype = mobile\nsecret = s\n");
	assert_int_equal(strlen(conf.apps[0].appid), 32);
}

static void
test_missing_in_app(void **state)
{
	(void)state;
	expect_error(GLOBALS "[app shop]\ntype = miniprogram\nsecret = s\n", 5,
	    "[app shop] has no appid");
	expect_error(GLOBALS "[app shop]\nappid = wx1\nsecret = s\n", 5,
	    "[app shop] has no type");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n", 5,
	    "[app shop] has no secret; set secret, secret_file or secret_env");
	/* Reported at the header of the incomplete app, also when another
	 * section follows. */
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "[app news]\nappid = wx2\ntype = website\nsecret = s\n", 5,
	    "[app shop] has no secret; set secret, secret_file or secret_env");
	expect_error(GLOBALS SHOP "\n# comment\n[app news]\n", 11,
	    "[app news] has no appid");
}

static void
test_two_secret_sources(void **state)
{
	(void)state;
	write_file("s.secret", "filesecret\n");
	assert_int_equal(setenv("TEST_CONF_SET", "envsecret-0123456789", 1), 0);
	expect_error(GLOBALS SHOP "secret_env = TEST_CONF_SET\n", 9,
	    "secret_env conflicts with secret at line 8: set only one of them");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = s.secret\nsecret = x\n", 9,
	    "secret conflicts with secret_file at line 8: set only one of them");
	expect_error(GLOBALS SHOP "secret = x\n", 9,
	    "duplicate setting 'secret' (first set at line 8)");
	expect_error(GLOBALS "admin_key_env = TEST_CONF_SET\n"
	    "admin_key = 0123456789abcdef\n" SHOP, 6,
	    "admin_key conflicts with admin_key_env at line 5: set only one "
	    "of them");
	assert_null(strstr(err, "envsecret"));
	assert_null(strstr(err, "0123456789abcdef"));
	assert_int_equal(unsetenv("TEST_CONF_SET"), 0);
}

static void
test_secret_env(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("TEST_CONF_UNSET"), 0);
	assert_int_equal(setenv("TEST_CONF_EMPTY", "", 1), 0);
	assert_int_equal(setenv("TEST_CONF_BLANK", "abc def", 1), 0);
	assert_int_equal(setenv("TEST_CONF_ADMIN", "short-secret", 1), 0);
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_env = TEST_CONF_UNSET\n", 8,
	    "secret_env: environment variable 'TEST_CONF_UNSET' is not set");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_env = TEST_CONF_EMPTY\n", 8,
	    "secret_env 'TEST_CONF_EMPTY': the secret is empty");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_env = TEST_CONF_BLANK\n", 8,
	    "secret_env 'TEST_CONF_BLANK': the secret must be printable ASCII "
	    "without blanks");
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_env = $HOME\n", 8,
	    "secret_env must be an environment variable name (letters, digits, "
	    "'_')");
	expect_error(GLOBALS "admin_key_env = TEST_CONF_ADMIN\n" SHOP, 5,
	    "admin_key_env 'TEST_CONF_ADMIN': the secret must be at least 16 "
	    "characters");
	assert_null(strstr(err, "short-secret"));
	assert_int_equal(unsetenv("TEST_CONF_EMPTY"), 0);
	assert_int_equal(unsetenv("TEST_CONF_BLANK"), 0);
	assert_int_equal(unsetenv("TEST_CONF_ADMIN"), 0);
}

static void
test_secret_file(void **state)
{
	char msg[PATH_MAX + 256];
	char big[5000];

	(void)state;
	snprintf(msg, sizeof msg, "secret_file '%s': cannot open: %s",
	    in_dir("nosuch.secret"), strerror(ENOENT));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = nosuch.secret\n", 8, msg);

	assert_int_equal(mkdir(in_dir("adir"), 0700) == 0 || errno == EEXIST, 1);
	snprintf(msg, sizeof msg, "secret_file '%s': not a regular file",
	    in_dir("adir"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = adir\n", 8, msg);

	write_file("empty.secret", "\n");
	snprintf(msg, sizeof msg, "secret_file '%s': the secret is empty",
	    in_dir("empty.secret"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = empty.secret\n", 8, msg);

	memset(big, 'a', sizeof big);
	write_bytes("big.secret", big, sizeof big);
	snprintf(msg, sizeof msg, "secret_file '%s': larger than 4096 bytes, "
	    "not a secret", in_dir("big.secret"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = big.secret\n", 8, msg);

	write_bytes("long.secret", big, CONF_SECRET_MAX + 1);
	snprintf(msg, sizeof msg, "secret_file '%s': the secret is longer than "
	    "128 bytes", in_dir("long.secret"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = long.secret\n", 8, msg);

	write_file("two.secret", "line-one\nline-two\n");
	snprintf(msg, sizeof msg, "secret_file '%s': the secret must be "
	    "printable ASCII without blanks", in_dir("two.secret"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = two.secret\n", 8, msg);
	assert_null(strstr(err, "line-one"));

	/* Root reads anything: the permission case only means something for
	 * other users. */
	if (geteuid() != 0) {
		write_file("locked.secret", "locked\n");
		assert_int_equal(chmod(in_dir("locked.secret"), 0), 0);
		snprintf(msg, sizeof msg, "secret_file '%s': cannot open: %s",
		    in_dir("locked.secret"), strerror(EACCES));
		expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
		    "secret_file = locked.secret\n", 8, msg);
	}

	/* The longest secret that fits, with the file's newline dropped. */
	big[CONF_SECRET_MAX] = '\n';
	write_bytes("max.secret", big, CONF_SECRET_MAX + 1);
	expect_ok(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret_file = max.secret\n");
	assert_int_equal(strlen(conf.apps[0].secret), CONF_SECRET_MAX);
}

static void
test_secrets_never_echoed(void **state)
{
	(void)state;
	expect_error(GLOBALS "admin_key = short-admin\n" SHOP, 5,
	    "admin_key: the secret must be at least 16 characters");
	assert_null(strstr(err, "short-admin"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret = \"hidden word\"\n", 8,
	    "secret: the secret must be printable ASCII without blanks");
	assert_null(strstr(err, "hidden"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret topsecretvalue\n", 8,
	    "expected 'name = value' or '[app NAME]'");
	assert_null(strstr(err, "topsecret"));
	expect_error(GLOBALS "[app shop]\nappid = wx1\ntype = website\n"
	    "secret = topsecret # note\n", 8,
	    "comments must be on their own line (quote the value if '#' "
	    "belongs to it)");
	assert_null(strstr(err, "topsecret"));
	expect_error("listen = /a\ndatabase = \"password=hunter2 x\n", 2,
	    "unterminated quoted value");
	assert_null(strstr(err, "hunter2"));
}

static void
test_bad_section_header(void **state)
{
	(void)state;
	expect_error(GLOBALS "[app]\n", 5, "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[app shop\n", 5,
	    "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[server x]\n", 5,
	    "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[apps x]\n", 5,
	    "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[app shop] # main\n", 5,
	    "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[]\n", 5, "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[\n", 5, "bad section header; expected [app NAME]");
	expect_error(GLOBALS "[app bad/name]\n", 5,
	    "bad app name 'bad/name': use 1 to 63 characters of A-Z a-z 0-9 _ -");
	expect_error(GLOBALS "[app my shop]\n", 5,
	    "bad app name 'my shop': use 1 to 63 characters of A-Z a-z 0-9 _ -");
	expect_error(GLOBALS "[app "
	    "a123456789012345678901234567890123456789012345678901234567890123]\n",
	    5, "bad app name "
	    "'a12345678901234567890123456789012345678901234567890123456789012': "
	    "use 1 to 63 characters of A-Z a-z 0-9 _ -");
	expect_error(GLOBALS SHOP "[app shop]\n", 9,
	    "[app shop] is already defined at line 5");
}

static void
test_setting_in_wrong_place(void **state)
{
	(void)state;
	expect_error(GLOBALS "appid = wx1\n" SHOP, 5,
	    "'appid' belongs in an [app NAME] section");
	expect_error(GLOBALS "secret_env = X\n" SHOP, 5,
	    "'secret_env' belongs in an [app NAME] section");
	expect_error(GLOBALS SHOP "workers = 2\n", 9,
	    "'workers' is a global setting: put it before the first [app] "
	    "section");
}

static void
test_no_app(void **state)
{
	(void)state;
	/* A fresh install has no app yet: the file is valid, no app is found. */
	expect_ok(GLOBALS "# apps come later\n\n");
	assert_int_equal(conf.napps, 0);
	assert_null(conf_app_find(&conf, NULL));
	assert_null(conf_app_find(&conf, "wx1"));
}

static void
test_missing_required(void **state)
{
	(void)state;
	expect_error("database = x\nkey_file = k\ndata_key_file = d\n" SHOP, 0,
	    "missing required setting 'listen'");
	expect_error("listen = /a\nkey_file = k\ndata_key_file = d\n" SHOP, 0,
	    "missing required setting 'database'");
	expect_error("listen = /a\ndatabase = x\ndata_key_file = d\n" SHOP, 0,
	    "missing required setting 'key_file'");
	expect_error("listen = /a\ndatabase = x\nkey_file = k\n" SHOP, 0,
	    "missing required setting 'data_key_file'");
	expect_error("", 0, "missing required setting 'listen'");
}

static void
test_duplicate_appid(void **state)
{
	(void)state;
	expect_error(GLOBALS SHOP "[app other]\ntype = mobile\n"
	    "appid = wx0000000000000001\n", 11,
	    "appid 'wx0000000000000001' is already used by [app shop] at line 6");
	/* The same appid is fine in one app only once; case matters. */
	expect_ok(GLOBALS SHOP "[app other]\ntype = mobile\nsecret = s\n"
	    "appid = WX0000000000000001\n");
	assert_int_equal(conf.napps, 2);
}

static void
test_too_many_apps(void **state)
{
	char text[8192];
	size_t used;
	int i, n;

	(void)state;
	used = (size_t)snprintf(text, sizeof text, "%s", GLOBALS);
	for (i = 0; i <= CONF_APPS_MAX; i++) {
		n = snprintf(text + used, sizeof text - used,
		    "[app a%d]\nappid = wx%d\ntype = miniprogram\nsecret = s\n",
		    i, i);
		assert_true(n > 0 && (size_t)n < sizeof text - used);
		used += (size_t)n;
	}
	expect_error(text, 4 + 4 * CONF_APPS_MAX + 1,
	    "too many [app] sections (at most 32)");
}

static void
test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"localhost", "relative/wxauth.sock", "host:0", "host:65536",
		":9000", "host:", "host:12ab", "host:-1", "ho st:9000",
		"[::1:9000", "[]:9000", "\"\"",
		("/0123456789012345678901234567890123456789012345678901234567890"
		"12345678901234567890123456789012345678901234567890"),
	};
	static const char *const good[] = {
		"127.0.0.1:9000", "localhost:65535", "[::1]:9000", "/a.sock",
		"wxauth-1.internal:1",
	};
	char text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "listen = %s\n", bad[i]);
		if (bad[i][0] == '/')
			expect_error(text, 1, "listen: a unix socket path has at "
			    "most 107 bytes");
		else
			expect_error(text, 1, "listen must be a unix socket path "
			    "starting with '/' or host:port with a port from 1 to "
			    "65535");
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(text, sizeof text, "listen = %s\n"
		    "database = x\nkey_file = k\ndata_key_file = d\n" SHOP,
		    good[i]);
		expect_ok(text);
		assert_string_equal(conf.listen, good[i]);
	}
}

static void
test_bad_base_url(void **state)
{
	(void)state;
	expect_error(GLOBALS "wechat_base_url = ftp://api.weixin.qq.com\n", 5,
	    "wechat_base_url must start with http:// or https://");
	expect_error(GLOBALS "wechat_base_url = api.weixin.qq.com\n", 5,
	    "wechat_base_url must start with http:// or https://");
	expect_error(GLOBALS "wechat_base_url = https://api.weixin.qq.com/\n", 5,
	    "wechat_base_url must not end with '/'");
	expect_error(GLOBALS "wechat_base_url = http://127.0.0.1:8081/wx/\n", 5,
	    "wechat_base_url must not end with '/'");
	expect_error(GLOBALS "wechat_base_url = https://\n", 5,
	    "wechat_base_url has no host");
	expect_error(GLOBALS "wechat_base_url = \"https://api .qq.com\"\n", 5,
	    "wechat_base_url must be a plain URL without blanks, query or "
	    "fragment");
	expect_error(GLOBALS "wechat_base_url = https://a.com/x?y=1\n", 5,
	    "wechat_base_url must be a plain URL without blanks, query or "
	    "fragment");
	expect_ok(GLOBALS "wechat_base_url = http://127.0.0.1:8081\n" SHOP);
	assert_string_equal(conf.wechat_base_url, "http://127.0.0.1:8081");
}

static void
test_avatar_hosts(void **state)
{
	(void)state;
	expect_error(GLOBALS "avatar_hosts = a b c d e f g h i\n", 5,
	    "avatar_hosts lists more than 8 hosts");
	expect_error(GLOBALS "avatar_hosts = wx.qlogo.cn http://x\n", 5,
	    "avatar_hosts: 'http://x' is not a host name");
	expect_error(GLOBALS "avatar_hosts =\n", 5,
	    "avatar_hosts must list at least 1 host");
	expect_ok(GLOBALS "avatar_hosts = a b c d e f g h\n" SHOP);
	assert_int_equal(conf.navatar_hosts, 8);
	assert_string_equal(conf.avatar_hosts[7], "h");
}

static void
test_long_line(void **state)
{
	char text[8192];
	size_t used;

	(void)state;
	/* A 4096-byte line is fine... */
	used = (size_t)snprintf(text, sizeof text, "%s#", GLOBALS);
	memset(text + used, 'a', 4095);
	used += 4095;
	snprintf(text + used, sizeof text - used, "\n%s", SHOP);
	expect_ok(text);
	/* ...4097 bytes are not, whatever the line holds. */
	used = (size_t)snprintf(text, sizeof text, "%s#", GLOBALS);
	memset(text + used, 'a', 4096);
	used += 4096;
	snprintf(text + used, sizeof text - used, "\n%s", SHOP);
	expect_error(text, 5, "line longer than 4096 bytes");
	/* The same at the very end of a file without a final newline. */
	used = (size_t)snprintf(text, sizeof text, "%s%s#", GLOBALS, SHOP);
	memset(text + used, 'a', 4096);
	text[used + 4096] = '\0';
	expect_error(text, 9, "line longer than 4096 bytes");
}

static void
test_bad_bytes(void **state)
{
	static const char nul[] = GLOBALS "issuer = a\0b\n" SHOP;

	(void)state;
	expect_error(GLOBALS "issuer = \xff\xfe\n" SHOP, 5,
	    "line is not valid UTF-8");
	expect_error(GLOBALS "# \xc0\xaf overlong\n" SHOP, 5,
	    "line is not valid UTF-8");
	expect_error(GLOBALS "# \xed\xa0\x80 surrogate\n" SHOP, 5,
	    "line is not valid UTF-8");
	write_bytes("t.conf", nul, sizeof nul - 1);
	memset(&conf, 0xa5, sizeof conf);
	assert_int_equal(conf_load(&conf, conf_path, err, sizeof err), -1);
	assert_string_equal(strchr(err, ' ') + 1, "line holds a NUL byte");
	assert_memory_equal(&conf, &zero, sizeof conf);
}

static void
test_cannot_open(void **state)
{
	char want[PATH_MAX + 128];
	char path[PATH_MAX + 64];

	(void)state;
	snprintf(path, sizeof path, "%s", in_dir("nosuch.conf"));
	snprintf(want, sizeof want, "%s:0: cannot open: %s", path,
	    strerror(ENOENT));
	assert_int_equal(conf_load(&conf, path, err, sizeof err), -1);
	assert_string_equal(err, want);
	snprintf(want, sizeof want, "%s:0: not a regular file", dir);
	assert_int_equal(conf_load(&conf, dir, err, sizeof err), -1);
	assert_string_equal(err, want);
	/* A short errbuf gets what fits, NUL-terminated; none at all is fine. */
	assert_int_equal(conf_load(&conf, path, err, 5), -1);
	assert_int_equal(strlen(err), 4);
	assert_int_equal(conf_load(&conf, path, NULL, 0), -1);
}

static void
test_app_find_one(void **state)
{
	const struct conf_app *a;

	(void)state;
	expect_ok(GLOBALS SHOP);
	a = conf_app_find(&conf, NULL);
	assert_non_null(a);
	assert_string_equal(a->appid, "wx0000000000000001");
	assert_ptr_equal(conf_app_find(&conf, ""), a);
	assert_ptr_equal(conf_app_find(&conf, "wx0000000000000001"), a);
	assert_null(conf_app_find(&conf, "wx0000000000000002"));
	assert_null(conf_app_find(&conf, "wx000000000000000"));
}

static void
test_app_find_two(void **state)
{
	const struct conf_app *a;

	(void)state;
	expect_ok(GLOBALS SHOP "[app news]\nappid = wx2\n"
	    "type = official_account\nsecret = n\n");
	assert_null(conf_app_find(&conf, NULL));
	assert_null(conf_app_find(&conf, ""));
	a = conf_app_find(&conf, "wx2");
	assert_non_null(a);
	assert_string_equal(a->name, "news");
	assert_int_equal(a->type, APP_OFFICIAL_ACCOUNT);
	a = conf_app_find(&conf, "wx0000000000000001");
	assert_non_null(a);
	assert_string_equal(a->name, "shop");
	assert_null(conf_app_find(&conf, "wx3"));
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(conf_app_type_name(APP_MINIPROGRAM), "miniprogram");
	assert_string_equal(conf_app_type_name(APP_OFFICIAL_ACCOUNT),
	    "official_account");
	assert_string_equal(conf_app_type_name(APP_WEBSITE), "website");
	assert_string_equal(conf_app_type_name(APP_MOBILE), "mobile");
	assert_string_equal(conf_app_type_name((enum app_type)42), "unknown");
}

static void
test_cleanup_wipes(void **state)
{
	(void)state;
	expect_ok(GLOBALS "admin_key = 0123456789abcdef-admin\n" SHOP);
	assert_string_equal(conf.admin_key, "0123456789abcdef-admin");
	conf_cleanup(&conf);
	assert_memory_equal(&conf, &zero, sizeof conf);
	conf_cleanup(NULL);
}

/* sample_path: deploy/wxauth.conf.sample, found from where this file was
 * compiled so that the test runs from any folder. */
static void
sample_path(char *buf, size_t size)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/unit/test_conf.c");
	int n;

	assert_non_null(tail);
	n = snprintf(buf, size, "%.*sdeploy/wxauth.conf.sample",
	    (int)(tail - me), me);
	assert_true(n > 0 && (size_t)n < size);
}

static void
test_sample(void **state)
{
	char src[PATH_MAX], want[PATH_MAX + 64];
	char text[32768];
	FILE *fp;
	size_t n;

	(void)state;
	sample_path(src, sizeof src);
	fp = fopen(src, "r");
	if (fp == NULL)
		print_error("cannot open %s: %s\n", src, strerror(errno));
	assert_non_null(fp);
	n = fread(text, 1, sizeof text - 1, fp);
	assert_true(n > 0 && n < sizeof text - 1);
	text[n] = '\0';
	fclose(fp);

	assert_int_equal(mkdir(in_dir("etc"), 0700) == 0 || errno == EEXIST, 1);
	write_file("etc/wxauth.conf", text);
	write_file("etc/news.secret", "0123456789abcdef0123456789abcd02\n");
	assert_int_equal(setenv("WXAUTH_SHOP_SECRET",
	    "0123456789abcdef0123456789abcd01", 1), 0);
	assert_int_equal(setenv("WXAUTH_WEB_SECRET",
	    "0123456789abcdef0123456789abcd03", 1), 0);
	assert_int_equal(setenv("WXAUTH_IOS_SECRET",
	    "0123456789abcdef0123456789abcd04", 1), 0);
	if (conf_load(&conf, in_dir("etc/wxauth.conf"), err, sizeof err) != 0)
		print_error("sample: %s\n", err);
	assert_string_equal(err, "");

	assert_string_equal(conf.listen, "/run/wxauth/wxauth.sock");
	assert_string_equal(conf.database,
	    "host=/var/run/postgresql dbname=wxauth user=wxauth");
	snprintf(want, sizeof want, "%s/etc/token.keys", dir);
	assert_string_equal(conf.key_file, want);
	snprintf(want, sizeof want, "%s/etc/data.key", dir);
	assert_string_equal(conf.data_key_file, want);
	/* Everything else is left at its default in the sample. */
	assert_int_equal(conf.workers, 4);
	assert_int_equal(conf.listen_mode, 0660);
	assert_int_equal(conf.access_ttl, 7200);
	assert_string_equal(conf.admin_key, "");
	assert_string_equal(conf.wechat_base_url, "https://api.weixin.qq.com");
	assert_int_equal(conf.navatar_hosts, 2);

	/* As shipped: no app, every login refused until one is added. */
	assert_int_equal(conf.napps, 0);

	/* Each commented-out default, uncommented, gives the same result;
	 * the example apps ("#[app", "#appid = ", ...) uncommented are four
	 * valid apps. */
	{
		char *line = text, *next;
		size_t used = 0;
		static char out[32768];

		for (; *line != '\0'; line = next) {
			next = strchr(line, '\n');
			next = next == NULL ? line + strlen(line) : next + 1;
			/* "# name = value" lines are the defaults; skip the
			 * admin key alternatives, which are exclusive. */
			if (strncmp(line, "# ", 2) == 0 &&
			    strncmp(line, "# admin_key", 11) != 0 &&
			    strstr(line, " = ") != NULL &&
			    strchr(line + 2, ' ') == strstr(line, " = ")) {
				line += 2;
			} else if (strncmp(line, "# pid_file =", 12) == 0 ||
			    strncmp(line, "# log_file =", 12) == 0 ||
			    strncmp(line, "# wechat_ca_file =", 18) == 0) {
				line += 2;
			} else if (line[0] == '#' && (line[1] == '[' ||
			    (line[1] >= 'a' && line[1] <= 'z'))) {
				line += 1;
			}
			assert_true(used + (size_t)(next - line) < sizeof out);
			memcpy(out + used, line, (size_t)(next - line));
			used += (size_t)(next - line);
		}
		out[used] = '\0';
		write_file("etc/defaults.conf", out);
		if (conf_load(&conf, in_dir("etc/defaults.conf"), err,
		    sizeof err) != 0)
			print_error("sample defaults: %s\n", err);
		assert_string_equal(err, "");
		assert_int_equal(conf.workers, 4);
		assert_int_equal(conf.listen_backlog, 128);
		assert_int_equal(conf.listen_mode, 0660);
		assert_int_equal(conf.max_requests, 0);
		assert_string_equal(conf.pid_file, "");
		assert_string_equal(conf.issuer, "wxauth");
		assert_int_equal(conf.refresh_ttl, 2592000);
		assert_int_equal(conf.max_body, 65536);
		assert_int_equal(conf.wechat_connect_timeout_ms, 2000);
		assert_int_equal(conf.wechat_timeout_ms, 5000);
		assert_int_equal(conf.watermark_max_age, 86400);
		assert_string_equal(conf.avatar_hosts[1], "wx.qlogo.cn");
		assert_int_equal(conf.napps, 4);
		assert_int_equal(conf.apps[0].type, APP_MINIPROGRAM);
		assert_string_equal(conf.apps[0].secret, "0123456789abcdef0123456789abcd01");
		assert_int_equal(conf.apps[1].type, APP_OFFICIAL_ACCOUNT);
		assert_string_equal(conf.apps[1].secret, "0123456789abcdef0123456789abcd02");
		assert_int_equal(conf.apps[2].type, APP_WEBSITE);
		assert_string_equal(conf.apps[2].secret, "0123456789abcdef0123456789abcd03");
		assert_int_equal(conf.apps[3].type, APP_MOBILE);
		assert_string_equal(conf.apps[3].secret, "0123456789abcdef0123456789abcd04");
		assert_null(conf_app_find(&conf, NULL));
		assert_non_null(conf_app_find(&conf, "wx0000000000000003"));
	}
	assert_int_equal(unsetenv("WXAUTH_SHOP_SECRET"), 0);
	assert_int_equal(unsetenv("WXAUTH_WEB_SECRET"), 0);
	assert_int_equal(unsetenv("WXAUTH_IOS_SECRET"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_relative_config_path),
		cmocka_unit_test(test_crlf_bom_and_blank_values),
		cmocka_unit_test(test_unknown_setting),
		cmocka_unit_test(test_duplicate_setting),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_not_a_number),
		cmocka_unit_test(test_empty_required),
		cmocka_unit_test(test_worker_scheduling),
		cmocka_unit_test(test_bad_app_type),
		cmocka_unit_test(test_bad_appid),
		cmocka_unit_test(test_missing_in_app),
		cmocka_unit_test(test_two_secret_sources),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_secrets_never_echoed),
		cmocka_unit_test(test_bad_section_header),
		cmocka_unit_test(test_setting_in_wrong_place),
		cmocka_unit_test(test_no_app),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_duplicate_appid),
		cmocka_unit_test(test_too_many_apps),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_bad_base_url),
		cmocka_unit_test(test_avatar_hosts),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_cannot_open),
		cmocka_unit_test(test_app_find_one),
		cmocka_unit_test(test_app_find_two),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_cleanup_wipes),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
