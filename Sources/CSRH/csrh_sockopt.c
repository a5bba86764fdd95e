/* libbpf shim: load the per-subflow sockopt sock_ops program (the object of
 * bpf/subflow_sockopt.bpf.c, compiled at build time by Plugins/BPFEmbed and passed in), attach it to a cgroup with a bpf_link (gone when
 * the process exits), and edit its maps. */
#include "CSRH.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>


struct csrh_sockopt {
    struct bpf_object *obj;
    struct bpf_link *link;
    int opts_fd;
    int ports_fd;
};

/* Mirrors struct srte_key / srte_opts in the BPF program. */
struct key { uint32_t local[4], remote[4], lport, rport; uint64_t netns; };
struct opts { uint32_t gen, applied_gen, flags, mark; int32_t tclass, last_error; char cc[16]; };
_Static_assert(sizeof(struct key) == 48, "srte_key");
_Static_assert(sizeof(struct opts) == 40, "srte_opts");

static int silent(enum libbpf_print_level l, const char *f, va_list a) { (void)l; (void)f; (void)a; return 0; }

struct csrh_sockopt *csrh_sockopt_attach(const void *object, size_t object_len, const char *cgroup_path,
                                         uint32_t port_lo, uint32_t port_hi, int *err)
{
    libbpf_set_print(silent);
    struct csrh_sockopt *h = calloc(1, sizeof *h);
    if (!h) { *err = ENOMEM; return NULL; }
    h->obj = bpf_object__open_mem(object, object_len, NULL);
    if (!h->obj) { *err = errno; free(h); return NULL; }
    int r = bpf_object__load(h->obj);
    if (r) { *err = -r; bpf_object__close(h->obj); free(h); return NULL; }
    struct bpf_program *p = bpf_object__find_program_by_name(h->obj, "srte_sockops");
    int cg = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!p || cg < 0) { *err = p ? errno : ENOENT; bpf_object__close(h->obj); free(h); return NULL; }
    h->link = bpf_program__attach_cgroup(p, cg);
    int e = errno;
    close(cg);
    if (!h->link) { *err = e; bpf_object__close(h->obj); free(h); return NULL; }
    h->opts_fd = bpf_object__find_map_fd_by_name(h->obj, "srte_subflow_opts");
    h->ports_fd = bpf_object__find_map_fd_by_name(h->obj, "srte_ports");
    uint32_t zero = 0, range[2] = { port_lo, port_hi };
    if (bpf_map_update_elem(h->ports_fd, &zero, range, BPF_ANY)) { *err = errno; csrh_sockopt_detach(h); return NULL; }
    *err = 0;
    return h;
}

void csrh_sockopt_detach(struct csrh_sockopt *h)
{
    if (!h) return;
    if (h->link) bpf_link__destroy(h->link);
    bpf_object__close(h->obj);
    free(h);
}

static void make_key(struct key *k, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport)
{
    memset(k, 0, sizeof *k);
    memcpy(k->local, local, 16);
    memcpy(k->remote, remote, 16);
    k->lport = lport;
    k->rport = rport;
    k->netns = netns;
}

int csrh_sockopt_set(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport,
                     uint32_t flags, uint32_t mark, int32_t tclass, const char *cc)
{
    struct key k;
    struct opts o;
    make_key(&k, netns, local, lport, remote, rport);
    memset(&o, 0, sizeof o);
    struct opts old;
    if (bpf_map_lookup_elem(h->opts_fd, &k, &old) == 0) o = old;
    o.gen++;
    o.flags |= flags;
    if (flags & 1) o.mark = mark;
    if (flags & 2) o.tclass = tclass;
    if ((flags & 4) && cc) { memset(o.cc, 0, sizeof o.cc); strncpy(o.cc, cc, sizeof o.cc - 1); }
    return bpf_map_update_elem(h->opts_fd, &k, &o, BPF_ANY) ? errno : 0;
}

int csrh_sockopt_status(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport,
                        int *applied, int32_t *last_error)
{
    struct key k;
    struct opts o;
    make_key(&k, netns, local, lport, remote, rport);
    if (bpf_map_lookup_elem(h->opts_fd, &k, &o)) return errno;
    *applied = o.gen == o.applied_gen;
    *last_error = o.last_error;
    return 0;
}

int csrh_sockopt_forget(struct csrh_sockopt *h, uint64_t netns, const uint8_t local[16], uint16_t lport, const uint8_t remote[16], uint16_t rport)
{
    struct key k;
    make_key(&k, netns, local, lport, remote, rport);
    return bpf_map_delete_elem(h->opts_fd, &k) ? errno : 0;
}
