/* prefork: a master process that keeps N workers on the inherited FastCGI socket. */
#ifndef AUTH_PREFORK_H
#define AUTH_PREFORK_H

/*
 * Fork `children` workers that share fd 0 (the listening socket spawn-fcgi
 * gave us). Returns 0 in each worker, which then serves requests. The
 * master never serves: it replaces a worker that dies (waiting a second
 * first when the worker lived less than one, so a crash loop cannot spin)
 * and on SIGTERM/SIGINT passes the signal on, waits for every worker and
 * returns 1. Workers get SIGTERM if the master dies. -1 if no worker
 * could be started.
 */
int prefork_run(int children);

#endif
