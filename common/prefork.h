/* prefork: a master process that keeps N workers on the inherited FastCGI socket. */
#ifndef AUTH_PREFORK_H
#define AUTH_PREFORK_H

/*
 * Work the master does besides supervising, for all its workers at once.
 * open() runs once the first workers are forked and again after every
 * respawn, close() before every respawn and at the end: the master holds
 * no open database connection across a fork. A failed open() is not
 * fatal: the duty logs it and tries again when it next serves. serve()
 * gets the master's ends of the channels that have a message waiting; it
 * must read one message from each and answer it.
 */
struct prefork_duty {
	int (*open)(void *ctx);              /* 0, or -1 (logged by the duty) */
	void (*close)(void *ctx);            /* idempotent */
	void (*serve)(void *ctx, const int *fds, int n);
	void *ctx;
};

/*
 * Fork `children` workers that share fd 0 (the listening socket spawn-fcgi
 * gave us). Returns 0 in each worker, which then serves requests; with a
 * duty, *channel is the worker's end of its SOCK_SEQPACKET channel to the
 * master (else -1). The master never serves HTTP: it replaces a worker
 * that dies (a second later when the worker lived less than one, so a
 * crash loop cannot spin) and on SIGTERM/SIGINT passes the signal on,
 * waits for every worker and returns 1. On SIGHUP it stops the workers
 * the same way and returns 2: the caller re-executes itself to load keys
 * and settings anew, keeping the listening socket (connections wait in
 * its backlog meanwhile). On SIGUSR1 it reopens its log (log_reopen) and
 * passes the signal to the workers. Workers get SIGTERM if the master
 * dies. -1 if no worker could start. In the master, the signal mask is
 * restored before returning, except that SIGUSR1 stays blocked (as in
 * the workers, which must take it where they choose).
 */
int prefork_run(int children, const struct prefork_duty *duty, int *channel);

#endif
