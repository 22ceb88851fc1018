/*
 * hello.c - the FastCGI transport's ceiling for `make bench`: a libfcgi
 * responder that reads nothing and answers every request with the same
 * small JSON and the headers wxauth sends, one request at a time, like a
 * wxauth worker. Started with spawn-fcgi -F N on the socket it gets as fd 0.
 */
#include <fcgiapp.h>

int
main(void)
{
	static const char answer[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Request-Id: 00000000000000000000000000000000\r\n"
	    "Content-Length: 16\r\n"
	    "\r\n"
	    "{\"status\":\"ok\"}\n";
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
