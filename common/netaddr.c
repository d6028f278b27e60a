/*
 * netaddr: client addresses as inet_pton reads them. The only text parsed
 * by hand is a CIDR prefix length; everything else is the C library's.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "valid.h"

/* An item of a list, address and "/128" included, fits in this. */
#define NETADDR_ITEM_MAX (INET6_ADDRSTRLEN + 4)
/* How much of a bad item an error message echoes. */
#define NETADDR_SHOWN_MAX 48

static const unsigned char netaddr_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Address length in bytes of an AF_INET / AF_INET6 network. */
static size_t netaddr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Clear the bits of a[0..len) past the first prefix bits. */
static void netaddr_mask(unsigned char *a, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		if (prefix >= 8) {
			prefix -= 8;
		} else {
			a[i] &= (unsigned char)(0xff00u >> prefix);
			prefix = 0;
		}
	}
}

/*
 * Read text s as an address: AF_INET into addr[0..4), or AF_INET6 into
 * addr[0..16). An IPv4-mapped IPv6 address is read as its IPv4 address:
 * a dual-stack socket shows IPv4 clients that way, and they must be the
 * same clients (allowed alike, throttled under one key). 0 or -1.
 */
static int netaddr_read(const char *s, int *family, unsigned char addr[16])
{
	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) != 1)
		return -1;
	*family = AF_INET6;
	if (memcmp(addr, netaddr_v4mapped, sizeof(netaddr_v4mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
	return 0;
}

/*
 * A prefix length as written after '/': plain decimal (no sign, no
 * leading zero, no spaces) in [0, max]. 0 and sets *out, or -1.
 */
static int netaddr_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parse one item (len bytes at item, already trimmed, non-empty) into
 * *net. On failure writes the reason into err and returns -1.
 */
static int netaddr_parse_item(const char *item, size_t len,
    struct netaddr_net *net, char *err, size_t errlen)
{
	char buf[NETADDR_ITEM_MAX], shown[NETADDR_SHOWN_MAX];
	char *slash;
	unsigned char masked[16];
	unsigned max;

	/* Also the text an error message shows (NUL-terminated, printable). */
	memcpy(buf, item, len < sizeof(buf) ? len : sizeof(buf) - 1);
	buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
	valid_printable(shown, sizeof(shown), buf);
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "'%s...' is not an IPv4 or IPv6 address",
		    shown);
		return -1;
	}
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (strchr(buf, '%') != NULL) {
		/* A zone only means something on this host's own links. */
		snprintf(err, errlen, "'%s' has a zone id", shown);
		return -1;
	}
	/* Read as written: a mapped IPv4 is an IPv6 address of /96 to /128. */
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
	} else {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address",
		    shown);
		return -1;
	}
	max = net->family == AF_INET ? 32 : 128;
	net->prefix = max;
	if (slash != NULL && netaddr_prefix(slash + 1, max, &net->prefix) != 0) {
		snprintf(err, errlen, "'%s' has a prefix length that is not "
		    "0 to %u", shown, max);
		return -1;
	}
	/* Stored as IPv4, so that it matches IPv4 clients however they come. */
	if (net->family == AF_INET6 && net->prefix >= 96 &&
	    memcmp(net->addr, netaddr_v4mapped, sizeof(netaddr_v4mapped)) == 0) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix -= 96;
	}
	memcpy(masked, net->addr, sizeof(masked));
	netaddr_mask(masked, netaddr_len(net->family), net->prefix);
	if (memcmp(masked, net->addr, sizeof(masked)) != 0) {
		char want[INET6_ADDRSTRLEN];

		/*
		 * Refused, not masked: "192.168.1.10/24" may mean one host or
		 * the whole /24, and guessing wider would allow too much.
		 */
		if (inet_ntop(net->family, masked, want, sizeof(want)) == NULL)
			want[0] = '\0';
		snprintf(err, errlen, "'%s' has host bits set (the network is "
		    "%s/%u)", shown, want, net->prefix);
		return -1;
	}
	return 0;
}

int netaddr_list_parse(const char *spec, struct netaddr_list *out,
    char *err, size_t errlen)
{
	const char *p = spec;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;        /* the empty list: nobody */
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0) {
			snprintf(err, errlen, "an item is empty (a comma with "
			    "no network before or after it)");
			goto fail;
		}
		if (out->n == NETADDR_LIST_MAX) {
			snprintf(err, errlen, "more than %d networks",
			    NETADDR_LIST_MAX);
			goto fail;
		}
		if (netaddr_parse_item(p, len, &out->net[out->n], err,
		    errlen) != 0)
			goto fail;
		out->n++;
		if (*end == '\0')
			break;
		p = end + 1;
		while (*p == ' ')
			p++;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

int netaddr_list_match(const struct netaddr_list *l, const char *addr)
{
	unsigned char a[16];
	int family;

	assert(l != NULL && l->n <= NETADDR_LIST_MAX);
	if (netaddr_read(addr, &family, a) != 0)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct netaddr_net *net = &l->net[i];
		unsigned char m[16];
		size_t len = netaddr_len(family);

		if (net->family != family)
			continue;
		memcpy(m, a, len);
		netaddr_mask(m, len, net->prefix);
		if (memcmp(m, net->addr, len) == 0)
			return 1;
	}
	return 0;
}

int netaddr_throttle_key(const char *addr, char *out, size_t cap)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char a[16];
	int family, n;

	assert(out != NULL);
	if (cap == 0)
		return -1;
	if (netaddr_read(addr, &family, a) != 0) {
		/* Not an address: the text is the key, whole or not at all. */
		if (addr == NULL)
			addr = "";
		if (strlen(addr) >= cap) {
			out[0] = '\0';
			return -1;
		}
		valid_printable(out, cap, addr);
		return 0;
	}
	/* One /64 is one subscriber: it may use any address inside it. */
	if (family == AF_INET6)
		netaddr_mask(a, 16, 64);
	if (inet_ntop(family, a, text, sizeof(text)) == NULL) {
		out[0] = '\0';
		return -1;
	}
	n = snprintf(out, cap, "%s%s", text, family == AF_INET6 ? "/64" : "");
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
