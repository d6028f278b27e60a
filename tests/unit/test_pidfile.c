/* test_pidfile: start times that tell a process from a reused pid; atomic pid files. */
#include "unit.h"

#include "fixture.h"
#include "pidfile.h"

static int pf_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || fx_init(f) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int pf_teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	return 0;
}

static void test_starttime_self(void **state)
{
	unsigned long long a = 0, b = 0;

	(void)state;
	assert_int_equal(pidfile_starttime(getpid(), &a), 0);
	assert_true(a > 0);
	assert_int_equal(pidfile_starttime(getpid(), &b), 0);
	assert_true(a == b);
}

/* A child started after us has a later (or equal) start time; a reaped
 * one has none. */
static void test_starttime_child_and_gone(void **state)
{
	unsigned long long me = 0, child = 0;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(pidfile_starttime(getpid(), &me), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(pidfile_starttime(pid, &child), 0);
	assert_true(child >= me);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(pidfile_starttime(pid, &child), -1);
	assert_int_equal(pidfile_starttime(0x7ffffff0, &child), -1);
}

static void test_write(void **state)
{
	struct fx *f = *state;
	char path[FX_PATH_MAX + 16], buf[128], want[128];
	unsigned long long start = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%s/x.pid", f->dir);
	assert_int_equal(pidfile_write(path, getpid(), 0), 0);
	in = fopen(path, "r");
	assert_non_null(in);
	assert_non_null(fgets(buf, sizeof(buf), in));
	fclose(in);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	assert_string_equal(buf, want);

	assert_int_equal(pidfile_write(path, getpid(), 1), 0);
	assert_int_equal(pidfile_starttime(getpid(), &start), 0);
	in = fopen(path, "r");
	assert_non_null(in);
	assert_non_null(fgets(buf, sizeof(buf), in));
	fclose(in);
	snprintf(want, sizeof(want), "%d %llu\n", (int)getpid(), start);
	assert_string_equal(buf, want);
	/* No temporary file is left behind. */
	snprintf(path, sizeof(path), "%s/x.pid.tmp", f->dir);
	assert_int_equal(access(path, F_OK), -1);

	/* A process that does not exist has no start time to record. */
	snprintf(path, sizeof(path), "%s/y.pid", f->dir);
	assert_int_equal(pidfile_write(path, 0x7ffffff0, 1), -1);
	assert_int_equal(access(path, F_OK), -1);
	/* A directory that does not exist: -1, nothing written. */
	snprintf(path, sizeof(path), "%s/no/such/x.pid", f->dir);
	assert_int_equal(pidfile_write(path, getpid(), 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttime_self),
		cmocka_unit_test(test_starttime_child_and_gone),
		cmocka_unit_test_setup_teardown(test_write, pf_setup, pf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
