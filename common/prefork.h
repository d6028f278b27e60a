/* prefork: a master process that keeps N workers on the inherited FastCGI socket. */
#ifndef AUTH_PREFORK_H
#define AUTH_PREFORK_H

/*
 * Fork `children` workers that share fd 0 (the listening socket spawn-fcgi
 * gave us). Returns 0 in each worker, which then serves requests. The
 * master never serves: it replaces a worker that dies (waiting a second
 * first when the worker lived less than one, so a crash loop cannot spin)
 * and on SIGTERM/SIGINT passes the signal on, waits for every worker and
 * returns 1. On SIGHUP it stops the workers the same way and returns 2:
 * the caller re-executes itself to load keys and settings anew, keeping
 * the listening socket (connections wait in its backlog meanwhile).
 * Workers get SIGTERM if the master dies. -1 if no worker could start.
 * In the master, the signal mask is restored before returning.
 */
int prefork_run(int children);

#endif
