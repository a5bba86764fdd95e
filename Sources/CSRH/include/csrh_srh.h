/*
 * IPv6 Segment Routing Header (RFC 8754) as Linux declares it in
 * include/uapi/linux/seg6.h and include/uapi/linux/seg6_hmac.h.
 *
 * srte never reads these structs as the wire format (SRv6Paths has its own
 * big-endian codec); they exist so that the layout the kernel expects is
 * written down and checked at compile time, and so that shims can hand the
 * kernel a buffer of the right shape.
 */
#ifndef CSRH_SRH_H
#define CSRH_SRH_H

#include <stddef.h>
#include <stdint.h>

/* include/uapi/linux/seg6.h: struct ipv6_sr_hdr */
struct csrh_ipv6_sr_hdr {
    uint8_t nexthdr;
    uint8_t hdrlen;          /* in 8-octet units, not counting the first 8 */
    uint8_t type;            /* IPV6_SRCRT_TYPE_4 */
    uint8_t segments_left;
    uint8_t first_segment;   /* represents the last_entry field of the SRH */
    uint8_t flags;
    uint16_t tag;            /* network byte order */
    uint8_t segments[][16];     /* segments[0] is the final destination */
};

_Static_assert(sizeof(struct csrh_ipv6_sr_hdr) == 8, "ipv6_sr_hdr fixed part is 8 bytes");
_Static_assert(offsetof(struct csrh_ipv6_sr_hdr, segments_left) == 3, "segments_left at byte 3");
_Static_assert(offsetof(struct csrh_ipv6_sr_hdr, first_segment) == 4, "first_segment at byte 4");
_Static_assert(offsetof(struct csrh_ipv6_sr_hdr, flags) == 5, "flags at byte 5");
_Static_assert(offsetof(struct csrh_ipv6_sr_hdr, tag) == 6, "tag at byte 6");
_Static_assert(offsetof(struct csrh_ipv6_sr_hdr, segments) == 8, "segments at byte 8");

#define CSRH_IPV6_SRCRT_TYPE_4 4
/* SRH flags as Linux names them (RFC 8754 leaves them unassigned). */
#define CSRH_SR6_FLAG1_PROTECTED (1 << 6)
#define CSRH_SR6_FLAG1_OAM       (1 << 5)
#define CSRH_SR6_FLAG1_ALERT     (1 << 4)
#define CSRH_SR6_FLAG1_HMAC      (1 << 3)

/* TLV types (include/uapi/linux/seg6.h) */
#define CSRH_SR6_TLV_INGRESS 1
#define CSRH_SR6_TLV_EGRESS  2
#define CSRH_SR6_TLV_OPAQUE  3
#define CSRH_SR6_TLV_PADDING 4
#define CSRH_SR6_TLV_HMAC    5

/* struct sr6_tlv */
struct csrh_sr6_tlv {
    uint8_t type;
    uint8_t len;
    uint8_t data[];
};
_Static_assert(sizeof(struct csrh_sr6_tlv) == 2, "sr6_tlv header is 2 bytes");

/* include/uapi/linux/seg6_hmac.h: struct sr6_tlv_hmac */
#define CSRH_SEG6_HMAC_SECRET_LEN 64
#define CSRH_SEG6_HMAC_FIELD_LEN  32
struct csrh_sr6_tlv_hdr {
    uint8_t type;
    uint8_t len;
};
struct csrh_sr6_tlv_hmac {
    struct csrh_sr6_tlv_hdr tlvhdr;
    uint16_t reserved;       /* the D flag is the top bit of the first byte */
    uint32_t hmackeyid;      /* network byte order */
    uint8_t hmac[CSRH_SEG6_HMAC_FIELD_LEN];
} __attribute__((packed));
_Static_assert(sizeof(struct csrh_sr6_tlv_hmac) == 40, "HMAC TLV is 40 bytes (type 5, length 38)");
_Static_assert(offsetof(struct csrh_sr6_tlv_hmac, hmackeyid) == 4, "hmackeyid at byte 4");
_Static_assert(offsetof(struct csrh_sr6_tlv_hmac, hmac) == 8, "hmac at byte 8");

#define CSRH_SEG6_HMAC_ALGO_SHA1   1
#define CSRH_SEG6_HMAC_ALGO_SHA256 2

/* Checked against <linux/seg6.h> and <linux/seg6_hmac.h> in csrh.c (kept out of this
 * header so the Swift-facing module does not include uapi headers). */

#endif
