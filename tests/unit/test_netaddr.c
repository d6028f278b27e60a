/* test_netaddr: allow lists of networks, matching, throttle keys. */
#include "unit.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netaddr.h"

/* ---- helpers ---- */

static void assert_parse_ok(const char *spec, size_t n,
    struct netaddr_list *l)
{
	char err[256] = "";

	if (netaddr_list_parse(spec, l, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", spec, err);
	assert_int_equal(l->n, n);
}

/* One line, printable ASCII only. */
static void assert_printable_line(const char *s)
{
	assert_true(s[0] != '\0');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < ' ' || *p > '~')
			fail_msg("byte 0x%02x in '%s'", (unsigned char)*p, s);
	}
}

/* spec is refused, the message says want, and the list is left empty. */
static void assert_parse_bad(const char *spec, const char *want)
{
	struct netaddr_list l;
	char err[256] = "";

	memset(&l, 0x5a, sizeof(l));
	if (netaddr_list_parse(spec, &l, err, sizeof(err)) != -1)
		fail_msg("'%s' accepted", spec);
	assert_printable_line(err);
	if (strstr(err, want) == NULL)
		fail_msg("'%s': '%s' does not say '%s'", spec, err, want);
	assert_int_equal(l.n, 0);
}

/* netaddr_list_match of addr against the list spec. */
static int match(const char *spec, const char *addr)
{
	struct netaddr_list l;
	char err[256] = "";

	if (netaddr_list_parse(spec, &l, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", spec, err);
	return netaddr_list_match(&l, addr);
}

static void assert_key(const char *addr, const char *want)
{
	char out[NETADDR_KEY_SIZE + 8];

	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key(addr, out, NETADDR_KEY_SIZE), 0);
	assert_string_equal(out, want);
	assert_int_equal(out[NETADDR_KEY_SIZE], 0x5a);
}

#define WHY_ADDR "is not an IPv4 or IPv6 address"
#define WHY_PREFIX4 "has a prefix length that is not 0 to 32"
#define WHY_PREFIX6 "has a prefix length that is not 0 to 128"
#define WHY_EMPTY "an item is empty"

/* ---- netaddr_list_parse ---- */

static void test_parse_default_list(void **state)
{
	struct netaddr_list l;
	static const unsigned char loop6[16] = { [15] = 1 };

	(void)state;
	assert_parse_ok("127.0.0.0/8,::1/128", 2, &l);
	assert_int_equal(l.net[0].family, AF_INET);
	assert_int_equal(l.net[0].prefix, 8);
	assert_memory_equal(l.net[0].addr, "\x7f\0\0\0", 4);
	assert_int_equal(l.net[1].family, AF_INET6);
	assert_int_equal(l.net[1].prefix, 128);
	assert_memory_equal(l.net[1].addr, loop6, 16);
}

static void test_parse_plain_address_is_one_host(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_ok("192.0.2.7", 1, &l);
	assert_int_equal(l.net[0].family, AF_INET);
	assert_int_equal(l.net[0].prefix, 32);
	assert_parse_ok("2001:db8::1", 1, &l);
	assert_int_equal(l.net[0].family, AF_INET6);
	assert_int_equal(l.net[0].prefix, 128);
	assert_int_equal(match("192.0.2.7", "192.0.2.7"), 1);
	assert_int_equal(match("192.0.2.7", "192.0.2.6"), 0);
	assert_int_equal(match("192.0.2.7", "192.0.2.8"), 0);
	assert_int_equal(match("2001:db8::1", "2001:DB8:0::1"), 1);
	assert_int_equal(match("2001:db8::1", "2001:db8::2"), 0);
}

static void test_parse_empty_allows_nobody(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_ok("", 0, &l);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1"), 0);
	assert_int_equal(netaddr_list_match(&l, "::1"), 0);
	assert_parse_ok("   ", 0, &l);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1"), 0);
}

static void test_parse_spaces_around_commas(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_ok("10.0.0.0/8 , 192.168.0.0/16,  ::1 ,fd00::/8", 4, &l);
	assert_int_equal(l.net[2].prefix, 128);
	assert_int_equal(l.net[3].prefix, 8);
	assert_parse_ok("  10.0.0.0/8  ", 1, &l);
	/* Spaces separate items only; inside one they are garbage. */
	assert_parse_bad("10.0.0.0 /8", WHY_ADDR);
	assert_parse_bad("10.0.0.0/ 8", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/8 10.1.0.0/16", WHY_PREFIX4);
	/* Only spaces: a tab is not one (config refuses control bytes). */
	assert_parse_bad("\t10.0.0.0/8", WHY_ADDR);
}

static void test_parse_bad_prefix(void **state)
{
	(void)state;
	assert_parse_bad("10.0.0.0/", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/x", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/-1", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/+8", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/08", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/8/8", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/8x", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/0x8", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/1000", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/4294967304", WHY_PREFIX4);
	assert_parse_bad("::/", WHY_PREFIX6);
	assert_parse_bad("::/0128", WHY_PREFIX6);
	/* The message names the item. */
	assert_parse_bad("10.0.0.0/8,172.16.0.0/x", "'172.16.0.0/x'");
}

static void test_parse_prefix_bounds(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_ok("0.0.0.0/0", 1, &l);
	assert_int_equal(l.net[0].prefix, 0);
	assert_parse_ok("192.0.2.7/32", 1, &l);
	assert_parse_bad("10.0.0.0/33", WHY_PREFIX4);
	assert_parse_bad("10.0.0.0/33", "'10.0.0.0/33'");
	assert_parse_ok("::/0", 1, &l);
	assert_parse_ok("2001:db8::1/128", 1, &l);
	assert_parse_bad("::1/129", WHY_PREFIX6);
	assert_parse_bad("::1/129", "'::1/129'");
	/* An IPv6 spelling of IPv4 has IPv6 bounds. */
	assert_parse_ok("::ffff:10.0.0.0/104", 1, &l);
	assert_parse_bad("::ffff:10.0.0.0/129", WHY_PREFIX6);
}

static void test_parse_garbage(void **state)
{
	(void)state;
	assert_parse_bad("localhost", "'localhost' " WHY_ADDR);
	assert_parse_bad("10.0.0", WHY_ADDR);
	assert_parse_bad("10.0.0.256", WHY_ADDR);
	assert_parse_bad("1.2.3.4.5", WHY_ADDR);
	assert_parse_bad("010.0.0.1", WHY_ADDR);     /* octal? refused */
	assert_parse_bad("0x7f.0.0.1", WHY_ADDR);
	assert_parse_bad("::g", WHY_ADDR);
	assert_parse_bad("1:2:3:4:5:6:7:8:9", WHY_ADDR);
	assert_parse_bad("[::1]", WHY_ADDR);
	assert_parse_bad("10.0.0.0;8", WHY_ADDR);
	assert_parse_bad("/8", WHY_ADDR);
	assert_parse_bad("*", WHY_ADDR);
	assert_parse_bad("10.0.0.0/8;rm -rf /", WHY_PREFIX4);
	assert_parse_bad("fe80::1%eth0", "'fe80::1%eth0' has a zone id");
	assert_parse_bad("fe80::%1/64", "has a zone id");
	/* The bad item comes after good ones. */
	assert_parse_bad("127.0.0.0/8,::1/128,nope", "'nope'");
}

static void test_parse_error_is_one_printable_line(void **state)
{
	char long_item[200];

	(void)state;
	/* Bytes config would refuse anyway never reach the message raw. */
	assert_parse_bad("10.0.0.\n1", "'10.0.0.?1'");
	assert_parse_bad("\x1b[31m", "'?[31m'");
	assert_parse_bad("caf\xc3\xa9", "'caf?" "?'");
	/* A long item is cut, and says so. */
	memset(long_item, '1', sizeof(long_item) - 1);
	long_item[sizeof(long_item) - 1] = '\0';
	assert_parse_bad(long_item, "...' " WHY_ADDR);
	{
		struct netaddr_list l;
		char err[256];

		assert_int_equal(netaddr_list_parse(long_item, &l, err,
		    sizeof(err)), -1);
		assert_true(strlen(err) < 100);
	}
	/* A small err buffer is filled, not overrun. */
	{
		struct netaddr_list l;
		char err[16 + 4];

		memset(err, 0x5a, sizeof(err));
		assert_int_equal(netaddr_list_parse("localhost", &l, err, 16),
		    -1);
		assert_int_equal(strlen(err), 15);
		assert_int_equal(err[16], 0x5a);
	}
}

static void test_parse_empty_items(void **state)
{
	(void)state;
	assert_parse_bad("10.0.0.0/8,", WHY_EMPTY);
	assert_parse_bad("10.0.0.0/8, ", WHY_EMPTY);
	assert_parse_bad(",10.0.0.0/8", WHY_EMPTY);
	assert_parse_bad(" ,10.0.0.0/8", WHY_EMPTY);
	assert_parse_bad("10.0.0.0/8,,::1", WHY_EMPTY);
	assert_parse_bad("10.0.0.0/8, ,::1", WHY_EMPTY);
	assert_parse_bad(",", WHY_EMPTY);
}

/* "10.0.0.1,10.0.0.2,..." with n items. */
static void make_list(char *buf, size_t cap, int n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 1; i <= n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s10.0.0.%d",
		    i > 1 ? "," : "", i);
	assert_true(len < cap);
}

static void test_parse_too_many(void **state)
{
	struct netaddr_list l;
	char spec[1024];

	(void)state;
	make_list(spec, sizeof(spec), NETADDR_LIST_MAX);
	assert_parse_ok(spec, NETADDR_LIST_MAX, &l);
	assert_int_equal(netaddr_list_match(&l, "10.0.0.32"), 1);
	assert_int_equal(netaddr_list_match(&l, "10.0.0.33"), 0);
	make_list(spec, sizeof(spec), NETADDR_LIST_MAX + 1);
	assert_parse_bad(spec, "more than 32 networks");
}

static void test_parse_host_bits_refused(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_bad("10.1.2.3/8",
	    "'10.1.2.3/8' has host bits set (the network is 10.0.0.0/8)");
	assert_parse_bad("192.168.1.10/24", "(the network is 192.168.1.0/24)");
	assert_parse_bad("10.0.0.1/31", "(the network is 10.0.0.0/31)");
	assert_parse_bad("172.16.0.0/11", "(the network is 172.0.0.0/11)");
	assert_parse_bad("1.0.0.0/0", "(the network is 0.0.0.0/0)");
	assert_parse_bad("2001:db8::1/64", "(the network is 2001:db8::/64)");
	assert_parse_bad("2001:db8:8000::/32",
	    "(the network is 2001:db8::/32)");
	assert_parse_bad("2001:db8:4000::/33",
	    "(the network is 2001:db8::/33)");
	assert_parse_bad("::1/0", "(the network is ::/0)");
	/* Shown as the IPv4 network it stands for. */
	assert_parse_bad("::ffff:10.1.2.3/104", "(the network is 10.0.0.0/8)");
	/* The last bit of the prefix is a network bit. */
	assert_parse_ok("10.0.0.128/25", 1, &l);
	assert_parse_ok("2001:db8::8000/113", 1, &l);
	assert_parse_ok("2001:db8:8000::/33", 1, &l);
}

/* ---- netaddr_list_match ---- */

static void test_match_ipv4_boundaries(void **state)
{
	(void)state;
	assert_int_equal(match("10.0.0.0/8", "9.255.255.255"), 0);
	assert_int_equal(match("10.0.0.0/8", "10.0.0.0"), 1);
	assert_int_equal(match("10.0.0.0/8", "10.255.255.255"), 1);
	assert_int_equal(match("10.0.0.0/8", "11.0.0.0"), 0);
	/* A prefix that is not a whole number of bytes. */
	assert_int_equal(match("172.16.0.0/12", "172.15.255.255"), 0);
	assert_int_equal(match("172.16.0.0/12", "172.16.0.0"), 1);
	assert_int_equal(match("172.16.0.0/12", "172.31.255.255"), 1);
	assert_int_equal(match("172.16.0.0/12", "172.32.0.0"), 0);
	assert_int_equal(match("192.0.2.128/25", "192.0.2.127"), 0);
	assert_int_equal(match("192.0.2.128/25", "192.0.2.128"), 1);
	assert_int_equal(match("192.0.2.128/25", "192.0.2.255"), 1);
	assert_int_equal(match("192.0.2.6/31", "192.0.2.5"), 0);
	assert_int_equal(match("192.0.2.6/31", "192.0.2.6"), 1);
	assert_int_equal(match("192.0.2.6/31", "192.0.2.7"), 1);
	assert_int_equal(match("192.0.2.6/31", "192.0.2.8"), 0);
	assert_int_equal(match("0.0.0.0/0", "0.0.0.0"), 1);
	assert_int_equal(match("0.0.0.0/0", "255.255.255.255"), 1);
	/* IPv4 networks never match IPv6 clients. */
	assert_int_equal(match("0.0.0.0/0", "::1"), 0);
	assert_int_equal(match("0.0.0.0/0", "::"), 0);
	/* Any network of the list will do. */
	assert_int_equal(match("10.0.0.0/8,192.168.0.0/16", "192.168.3.4"), 1);
	assert_int_equal(match("10.0.0.0/8,192.168.0.0/16", "192.169.0.0"), 0);
}

static void test_match_ipv6_boundaries(void **state)
{
	(void)state;
	assert_int_equal(match("2001:db8::/32",
	    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), 0);
	assert_int_equal(match("2001:db8::/32", "2001:db8::"), 1);
	assert_int_equal(match("2001:db8::/32",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	assert_int_equal(match("2001:db8::/32", "2001:db9::"), 0);
	assert_int_equal(match("fe80::/10", "fe7f:ffff::1"), 0);
	assert_int_equal(match("fe80::/10", "fe80::1"), 1);
	assert_int_equal(match("fe80::/10", "febf:ffff::1"), 1);
	assert_int_equal(match("fe80::/10", "fec0::"), 0);
	assert_int_equal(match("2001:db8::/127", "2001:db8::1"), 1);
	assert_int_equal(match("2001:db8::/127", "2001:db8::2"), 0);
	assert_int_equal(match("::1/128", "::1"), 1);
	assert_int_equal(match("::1/128", "0:0:0:0:0:0:0:1"), 1);
	assert_int_equal(match("::1/128", "::2"), 0);
	assert_int_equal(match("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	    1);
	/* Case and spelling of the client do not matter. */
	assert_int_equal(match("2001:db8:abcd::/48", "2001:DB8:ABCD:0::1"), 1);
	assert_int_equal(match("2001:db8:abcd::/48",
	    "2001:0db8:abcd:0000:0000:0000:0000:0001"), 1);
}

static void test_match_ipv4_mapped(void **state)
{
	(void)state;
	/* The default list lets a dual-stack socket's loopback in. */
	assert_int_equal(match("127.0.0.0/8,::1/128", "::ffff:127.0.0.1"), 1);
	assert_int_equal(match("127.0.0.0/8,::1/128", "::FFFF:127.1.2.3"), 1);
	assert_int_equal(match("127.0.0.0/8,::1/128", "::ffff:7f00:1"), 1);
	assert_int_equal(match("127.0.0.0/8,::1/128", "::ffff:128.0.0.1"), 0);
	/* A network written as mapped IPv6 is that IPv4 network. */
	assert_int_equal(match("::ffff:10.0.0.0/104", "10.9.9.9"), 1);
	assert_int_equal(match("::ffff:10.0.0.0/104", "::ffff:10.9.9.9"), 1);
	assert_int_equal(match("::ffff:10.0.0.0/104", "11.0.0.0"), 0);
	assert_int_equal(match("::ffff:0:0/96", "203.0.113.9"), 1);
	assert_int_equal(match("::ffff:192.0.2.7", "192.0.2.7"), 1);
	/* IPv6 networks are IPv6 only, even ::/0 (see netaddr.h). */
	assert_int_equal(match("::/0", "127.0.0.1"), 0);
	assert_int_equal(match("::/0", "::ffff:127.0.0.1"), 0);
	/* The deprecated IPv4-compatible form is just IPv6. */
	assert_int_equal(match("127.0.0.0/8", "::127.0.0.1"), 0);
	assert_int_equal(match("::/96", "::127.0.0.1"), 1);
}

static void test_match_unparseable_is_refused(void **state)
{
	struct netaddr_list l;

	(void)state;
	assert_parse_ok("0.0.0.0/0,::/0", 2, &l);
	assert_int_equal(netaddr_list_match(&l, NULL), 0);
	assert_int_equal(netaddr_list_match(&l, ""), 0);
	assert_int_equal(netaddr_list_match(&l, "localhost"), 0);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1:8080"), 0);
	assert_int_equal(netaddr_list_match(&l, " 127.0.0.1"), 0);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1 "), 0);
	assert_int_equal(netaddr_list_match(&l, "127.1"), 0);
	assert_int_equal(netaddr_list_match(&l, "[::1]"), 0);
	assert_int_equal(netaddr_list_match(&l, "fe80::1%eth0"), 0);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1/8"), 0);
	assert_int_equal(netaddr_list_match(&l, "127.0.0.1"), 1);
	assert_int_equal(netaddr_list_match(&l, "::1"), 1);
}

/* ---- netaddr_throttle_key ---- */

static void test_key_ipv4(void **state)
{
	(void)state;
	assert_key("192.0.2.7", "192.0.2.7");
	assert_key("0.0.0.0", "0.0.0.0");
	assert_key("255.255.255.255", "255.255.255.255");
	/* The same client through a dual-stack socket: the same key. */
	assert_key("::ffff:192.0.2.7", "192.0.2.7");
	assert_key("::FFFF:192.0.2.7", "192.0.2.7");
	assert_key("::ffff:c000:207", "192.0.2.7");
	assert_key("0:0:0:0:0:ffff:192.0.2.7", "192.0.2.7");
}

static void test_key_ipv6_is_its_64(void **state)
{
	(void)state;
	assert_key("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64");
	assert_key("2001:db8:1:2::", "2001:db8:1:2::/64");
	assert_key("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64");
	/* Full, mixed case, leading zeros: one canonical text. */
	assert_key("2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd",
	    "2001:db8:1:2::/64");
	assert_key("2001:DB8:1:2:AAAA:bbbb:CcCc:1", "2001:db8:1:2::/64");
	/* The neighbouring /64s are other clients. */
	assert_key("2001:db8:1:1:ffff:ffff:ffff:ffff", "2001:db8:1:1::/64");
	assert_key("2001:db8:1:3::", "2001:db8:1:3::/64");
	/* Compression lands where inet_ntop puts it. */
	assert_key("2001:db8::1:0:0:1", "2001:db8::/64");
	assert_key("2001:0:0:1::1", "2001:0:0:1::/64");
	assert_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff::/64");
	assert_key("::1", "::/64");
	assert_key("::", "::/64");
	assert_key("fe80::1", "fe80::/64");
	/* IPv4-compatible (deprecated) is IPv6, not IPv4. */
	assert_key("::192.0.2.7", "::/64");
}

static void test_key_not_an_address(void **state)
{
	char long_text[NETADDR_KEY_SIZE + 1];
	char out[NETADDR_KEY_SIZE];

	(void)state;
	/* A zone id is never in REMOTE_ADDR from lighttpd: kept as text. */
	assert_key("fe80::1%eth0", "fe80::1%eth0");
	assert_key("", "");
	assert_key(NULL, "");
	assert_key("unix:/run/x.sock", "unix:/run/x.sock");
	assert_key("a\x01" "b\x7f", "a?b?");
	assert_key("caf\xc3\xa9", "caf??");
	/* Text is the key whole or not at all. */
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[NETADDR_KEY_SIZE - 1] = '\0';
	assert_key(long_text, long_text);
	long_text[NETADDR_KEY_SIZE - 1] = 'x';
	long_text[NETADDR_KEY_SIZE] = '\0';
	assert_int_equal(netaddr_throttle_key(long_text, out, sizeof(out)), -1);
	assert_string_equal(out, "");
}

static void test_key_cap_too_small(void **state)
{
	char out[40];

	(void)state;
	/* "192.0.2.7" and its NUL: 10 bytes. */
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key("192.0.2.7", out, 10), 0);
	assert_string_equal(out, "192.0.2.7");
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key("192.0.2.7", out, 9), -1);
	assert_string_equal(out, "");
	assert_int_equal(out[9], 0x5a);
	/* The longest IPv6 key: 24 bytes and its NUL. */
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key("ffff:ffff:ffff:ffff::1", out,
	    25), 0);
	assert_string_equal(out, "ffff:ffff:ffff:ffff::/64");
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key("ffff:ffff:ffff:ffff::1", out,
	    24), -1);
	assert_string_equal(out, "");
	assert_int_equal(out[24], 0x5a);
	/* The "/64" must fit too, not only the address. */
	assert_int_equal(netaddr_throttle_key("2001:db8::1", out, 12), -1);
	assert_int_equal(netaddr_throttle_key("2001:db8::1", out, 15), 0);
	assert_string_equal(out, "2001:db8::/64");
	/* Unreadable text needs its own length and a NUL. */
	assert_int_equal(netaddr_throttle_key("garbage", out, 7), -1);
	assert_string_equal(out, "");
	assert_int_equal(netaddr_throttle_key("garbage", out, 8), 0);
	/* cap 0: nothing written at all. */
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(netaddr_throttle_key("192.0.2.7", out, 0), -1);
	assert_int_equal(out[0], 0x5a);
	assert_int_equal(netaddr_throttle_key("", out, 1), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest netaddr[] = {
		cmocka_unit_test(test_parse_default_list),
		cmocka_unit_test(test_parse_plain_address_is_one_host),
		cmocka_unit_test(test_parse_empty_allows_nobody),
		cmocka_unit_test(test_parse_spaces_around_commas),
		cmocka_unit_test(test_parse_bad_prefix),
		cmocka_unit_test(test_parse_prefix_bounds),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_parse_error_is_one_printable_line),
		cmocka_unit_test(test_parse_empty_items),
		cmocka_unit_test(test_parse_too_many),
		cmocka_unit_test(test_parse_host_bits_refused),
		cmocka_unit_test(test_match_ipv4_boundaries),
		cmocka_unit_test(test_match_ipv6_boundaries),
		cmocka_unit_test(test_match_ipv4_mapped),
		cmocka_unit_test(test_match_unparseable_is_refused),
		cmocka_unit_test(test_key_ipv4),
		cmocka_unit_test(test_key_ipv6_is_its_64),
		cmocka_unit_test(test_key_not_an_address),
		cmocka_unit_test(test_key_cap_too_small),
	};

	return cmocka_run_group_tests(netaddr, NULL, NULL);
}
