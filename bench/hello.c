/*
 * hello: the transport ceiling. A bare FastCGI responder that answers
 * every request with {"status":"ok"} and does nothing else, run behind the
 * same lighttpd configuration and process count as the real endpoints, so
 * that endpoint throughput can be read as a fraction of what the
 * transport alone allows.
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char reply[] = "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
	    "{\"status\":\"ok\"}";
	const char *n = getenv("FCGI_CHILDREN");
	int children = n != NULL ? atoi(n) : 2, i;
	FCGX_Request req;

	if (argc > 1 && strcmp(argv[1], "--check-config") == 0)
		return 0;
	/* Same process count as an endpoint: workers share fd 0. */
	for (i = 1; i < children; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			break;
		}
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out);
		/* The endpoints' close (http.c, http_finish): at once, without
		 * libfcgi's lingering wait, once the input has all been read. */
		if (FCGX_GetChar(req.in) == EOF)
			(void)FCGX_Detach(&req);
		FCGX_Finish_r(&req);
	}
	return 0;
}
