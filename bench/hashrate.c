/*
 * hashrate: the login/register ceiling. Verifies a password against a
 * hash of the configured method and cost (what one login costs, through
 * the service's own password module) in `procs` processes for `seconds`,
 * and prints the total rate in hashes per second.
 *   usage: hashrate COST PROCS SECONDS [yescrypt]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "password.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct password_ctx *pw = NULL;
	char hash[PASSWORD_HASH_MAX], err[256];
	int procs, fds[2], i;
	double seconds, total = 0;

	if (argc < 4)
		return 2;
	procs = atoi(argv[2]);
	seconds = atof(argv[3]);
	if (password_init(&pw, argc > 4 && strcmp(argv[4], "yescrypt") == 0 ?
	    CONFIG_HASH_YESCRYPT : CONFIG_HASH_BCRYPT, atol(argv[1]), 0, err,
	    sizeof(err)) != 0 || password_hash(pw, "benchmark-pw", hash) != 0 ||
	    pipe(fds) != 0)
		return 1;
	for (i = 0; i < procs; i++) {
		if (fork() == 0) {
			double t0 = now_s(), rate;
			long n = 0;

			while (now_s() - t0 < seconds) {
				if (!password_verify(pw, "benchmark-pw", hash))
					_exit(1);
				n++;
			}
			rate = (double)n / (now_s() - t0);
			if (write(fds[1], &rate, sizeof(rate)) != sizeof(rate))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	for (i = 0; i < procs; i++) {
		double r;

		if (read(fds[0], &r, sizeof(r)) == sizeof(r))
			total += r;
		wait(NULL);
	}
	printf("%.2f\n", total);
	password_free(pw);
	return 0;
}
