/*
 * GET /healthz
 *   200 {"status":"ok"}: the process is alive. No database, no keys.
 */
#include "app.h"

static void healthz(struct app *a, struct http_req *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	(void)a;
	http_reply_json(req, 200, 0, body, sizeof(body) - 1);
}

int main(int argc, char **argv)
{
	static const struct app_endpoint ep = {
		.name = "healthz",
		.path = "/healthz",
		.methods = HTTP_GET,
		.needs = 0,
		.bearer = 0,
		.handle = healthz,
	};

	return app_main(argc, argv, &ep);
}
