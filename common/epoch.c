/* epoch: the shared change counter of a database (see epoch.h). */
#include "epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ownfile.h"

struct epoch {
	uint64_t *counter;
};

struct epoch *epoch_open(const char *db_path)
{
	struct epoch *e = NULL;
	struct stat st;
	char path[4096];
	void *map = MAP_FAILED;
	int fd = -1;

	if (snprintf(path, sizeof(path), "%s-epoch", db_path) >= (int)sizeof(path))
		return NULL;
	fd = ownfile_open(path, &st);
	if (fd < 0)
		goto out;
	/* Sizing a new file is safe to race: growing to the same size never
	 * clears what another process already counted. Anything but the
	 * exact size is not ours. */
	if (st.st_size == 0 && ftruncate(fd, (off_t)sizeof(uint64_t)) != 0)
		goto out;
	if (st.st_size != 0 && st.st_size != (off_t)sizeof(uint64_t)) {
		errno = EINVAL;
		goto out;
	}
	map = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (map == MAP_FAILED)
		goto out;
	e = malloc(sizeof(*e));
	if (e == NULL) {
		munmap(map, sizeof(uint64_t));
		goto out;
	}
	e->counter = map;
out:
	if (fd >= 0)
		close(fd);
	return e;
}

void epoch_close(struct epoch *e)
{
	if (e == NULL)
		return;
	munmap(e->counter, sizeof(uint64_t));
	free(e);
}

uint64_t epoch_now(const struct epoch *e)
{
	return __atomic_load_n(e->counter, __ATOMIC_ACQUIRE);
}

void epoch_bump(struct epoch *e)
{
	__atomic_add_fetch(e->counter, 1, __ATOMIC_RELEASE);
}
