/*
 * epoch: a change counter shared by every process on this host that uses
 * one database, kept in a small file beside it ("<database>-epoch", the
 * way SQLite keeps "-wal" and "-shm"). Every write transaction bumps it
 * after its commit; a cache of database answers is still valid while
 * the counter has not moved since the answer was read.
 */
#ifndef AUTH_EPOCH_H
#define AUTH_EPOCH_H

#include <stdint.h>

struct epoch;

/* Map (creating if needed) the counter file of the database at db_path.
 * NULL when it cannot be mapped: callers then cache nothing. */
struct epoch *epoch_open(const char *db_path);
void epoch_close(struct epoch *e);

/* The counter now (acquire: answers read after it are at least as new). */
uint64_t epoch_now(const struct epoch *e);
/* Count one committed write (release: after the commit became visible). */
void epoch_bump(struct epoch *e);

#endif
