/*
 * netaddr: client network addresses (REMOTE_ADDR): allow lists of CIDR
 * networks (METRICS_ALLOW), and the key a client is throttled under.
 */
#ifndef AUTH_NETADDR_H
#define AUTH_NETADDR_H

#include <stddef.h>

#define NETADDR_LIST_MAX 32     /* networks in one list */
/*
 * Room for any throttle key of an address inet_pton reads (the longest,
 * "ffff:ffff:ffff:ffff::/64", is 24 bytes), and for unreadable text of up
 * to 63 bytes.
 */
#define NETADDR_KEY_SIZE 64

/*
 * One network. IPv4 networks are AF_INET with the address in addr[0..4),
 * however they were written (a.b.c.d/n or ::ffff:a.b.c.d/96+n), so that
 * IPv4 clients, also as seen by an IPv6 socket, match them alike.
 */
struct netaddr_net {
	int family;                  /* AF_INET or AF_INET6 */
	unsigned char addr[16];      /* network address; host bits are zero */
	unsigned prefix;             /* 0-32 (AF_INET) or 0-128 (AF_INET6) */
};

/* A parsed allow list, held by value (no allocation, nothing to free). */
struct netaddr_list {
	size_t n;
	struct netaddr_net net[NETADDR_LIST_MAX];
};

/*
 * Parse spec, comma-separated networks ("10.0.0.0/8, ::1/128, 192.0.2.7";
 * spaces allowed around commas; a plain address is a /32 or /128), into
 * *out. "" (or only spaces) is the empty list, which matches nobody.
 * Returns 0, or -1 with *out emptied and one printable line in err naming
 * the bad item and what is wrong with it (the caller adds the setting's
 * name). Refused: empty items (",," or a comma at either end), a prefix
 * length that is not 0-32 / 0-128 in plain decimal, a zone id ("%eth0"),
 * more than NETADDR_LIST_MAX networks, and host bits set beyond the
 * prefix ("10.1.2.3/8"): that is a typo or a misunderstanding, and
 * masking it would silently allow more than the operator wrote.
 */
int netaddr_list_parse(const char *spec, struct netaddr_list *out,
    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * 1 if the textual client address addr (IPv4, or IPv6 as inet_pton reads
 * it; an IPv4-mapped "::ffff:a.b.c.d" counts as the IPv4 address) lies in
 * a network of l, else 0. NULL, "" and anything unparseable (a zone id
 * too) give 0: an allow list never allows what it cannot read.
 * NOTE: an IPv6 network never matches an IPv4 client, even ::/0; allow
 * IPv4 with IPv4 networks (0.0.0.0/0 is every IPv4 client).
 */
int netaddr_list_match(const struct netaddr_list *l, const char *addr);

/*
 * Write into out (capacity cap) the key client addr is throttled under:
 *   IPv4 or IPv4-mapped IPv6: the canonical dotted quad ("192.0.2.7");
 *   other IPv6: its /64 network, canonical, "/64" appended
 *     ("2001:db8:1:2::/64" for 2001:DB8:1:2:aaaa::1), because one
 *     subscriber holds a whole /64 and may pick any address in it;
 *   anything else (NULL, "", a zone id, garbage): the text itself, bytes
 *     outside printable ASCII as '?'. lighttpd sets REMOTE_ADDR from the
 *     socket, so a client cannot choose such text to dodge its key.
 * Returns 0, or -1 (out set to "" when cap > 0) when the key does not fit
 * in cap: a key is never truncated, so two clients never share one by
 * accident.
 */
int netaddr_throttle_key(const char *addr, char *out, size_t cap)
    __attribute__((warn_unused_result));

#endif
