#include "csrh_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* BPF_TCX_EGRESS (6.6+), absent from Debian 12's uapi headers. */
#define CSRH_BPF_TCX_EGRESS 47


/* libbpf's messages since the last csrh_bpf_last_log(). When they do not fit, the end is kept:
 * the verifier states its reason for refusing a program in the last lines of its log. */
static char csrh_log[32768];
static size_t csrh_log_len;

static int csrh_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n <= 0)
        return 0;
    char *msg = malloc((size_t)n + 1);
    if (!msg)
        return 0;
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    size_t cap = sizeof csrh_log - 1, len = (size_t)n;
    if (len >= cap) {
        memcpy(csrh_log, msg + len - cap, cap);
        csrh_log_len = cap;
    } else {
        if (csrh_log_len + len > cap) {
            size_t drop = csrh_log_len + len - cap;
            memmove(csrh_log, csrh_log + drop, csrh_log_len - drop);
            csrh_log_len -= drop;
        }
        memcpy(csrh_log + csrh_log_len, msg, len);
        csrh_log_len += len;
    }
    free(msg);
    return 0;
}

const char *csrh_bpf_last_log(void)
{
    csrh_log[csrh_log_len < sizeof csrh_log ? csrh_log_len : sizeof csrh_log - 1] = 0;
    csrh_log_len = 0;
    return csrh_log;
}

int csrh_bpf_map_update(int map_fd, const void *key, const void *value)
{
    return bpf_map_update_elem(map_fd, key, value, BPF_ANY) ? -errno : 0;
}

int csrh_bpf_map_delete(int map_fd, const void *key)
{
    return bpf_map_delete_elem(map_fd, key) ? -errno : 0;
}

int csrh_bpf_percpu_u64_sum(int map_fd, uint32_t index, uint64_t *sum)
{
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        return ncpu ? ncpu : -EINVAL;
    uint64_t *vals = calloc((size_t)ncpu, sizeof *vals);
    if (!vals)
        return -ENOMEM;
    int r = bpf_map_lookup_elem(map_fd, &index, vals) ? -errno : 0;
    *sum = 0;
    for (int i = 0; r == 0 && i < ncpu; i++)
        *sum += vals[i];
    free(vals);
    return r;
}

int csrh_bpf_tcx_egress_count(int ifindex, uint32_t *count)
{
    __u32 ids[64];
    __u32 cnt = 64;
    if (bpf_prog_query(ifindex, (enum bpf_attach_type)CSRH_BPF_TCX_EGRESS, 0, NULL, ids, &cnt))
        return -errno;
    *count = cnt;
    return 0;
}

/* BPF_TCX_INGRESS (6.6+), absent from Debian 12's uapi headers. */
#define CSRH_BPF_TCX_INGRESS 46

struct csrh_bpf_object {
    struct bpf_object *obj;
};

int csrh_bpf_object_load(const void *buf, size_t len, struct csrh_bpf_object **out)
{
    return csrh_bpf_object_load_reusing(buf, len, NULL, -1, out);
}

int csrh_bpf_object_load_reusing(const void *buf, size_t len, const char *map, int map_fd, struct csrh_bpf_object **out)
{
    libbpf_set_print(csrh_bpf_print);
    csrh_log_len = 0;
    struct csrh_bpf_object *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->obj = bpf_object__open_mem(buf, len, NULL);
    if (!o->obj) {
        int e = -errno;
        free(o);
        return e ? e : -EINVAL;
    }
    if (map) {
        struct bpf_map *m = bpf_object__find_map_by_name(o->obj, map);
        int r = m ? bpf_map__reuse_fd(m, map_fd) : -ENOENT;
        if (r) {
            bpf_object__close(o->obj);
            free(o);
            return r;
        }
    }
    int err = bpf_object__load(o->obj);
    if (err) {
        bpf_object__close(o->obj);
        free(o);
        return err < 0 ? err : -EINVAL;
    }
    *out = o;
    return 0;
}

int csrh_bpf_object_map_fd(struct csrh_bpf_object *o, const char *map)
{
    struct bpf_map *m = bpf_object__find_map_by_name(o->obj, map);
    return m ? bpf_map__fd(m) : -ENOENT;
}

int csrh_bpf_object_attach_tcx(struct csrh_bpf_object *o, int ifindex, int ingress, int *link_fd)
{
    struct bpf_program *p = bpf_object__next_program(o->obj, NULL);
    if (!p)
        return -ENOENT;
    int type = ingress ? CSRH_BPF_TCX_INGRESS : CSRH_BPF_TCX_EGRESS;
    int fd = bpf_link_create(bpf_program__fd(p), ifindex, (enum bpf_attach_type)type, NULL);
    if (fd < 0)
        return -errno;
    *link_fd = fd;
    return 0;
}

int csrh_bpf_object_attach_cgroup_sockops(struct csrh_bpf_object *o, const char *cgroup_path, int *link_fd)
{
    struct bpf_program *p = bpf_object__next_program(o->obj, NULL);
    if (!p)
        return -ENOENT;
    int cg = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0)
        return -errno;
    int fd = bpf_link_create(bpf_program__fd(p), cg, BPF_CGROUP_SOCK_OPS, NULL);
    int e = errno;
    close(cg);
    if (fd < 0)
        return -e;
    *link_fd = fd;
    return 0;
}

int csrh_bpf_object_attach_tc(struct csrh_bpf_object *o, int ifindex, int ingress)
{
    struct bpf_program *p = bpf_object__next_program(o->obj, NULL);
    if (!p)
        return -ENOENT;
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                        .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        return err;
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
                        .prog_fd = bpf_program__fd(p), .flags = BPF_TC_F_REPLACE);
    return bpf_tc_attach(&hook, &opts);
}

int csrh_bpf_tc_attached_map_fd(int ifindex, int ingress, const char *name)
{
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                        .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
    int err = bpf_tc_query(&hook, &opts);
    if (err)
        return err;
    int prog = bpf_prog_get_fd_by_id(opts.prog_id);
    if (prog < 0)
        return -errno;
    uint32_t ids[16];
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    info.nr_map_ids = 16;
    info.map_ids = (uint64_t)(uintptr_t)ids;
    uint32_t len = sizeof info;
    err = bpf_obj_get_info_by_fd(prog, &info, &len);
    close(prog);
    if (err)
        return -errno;
    for (uint32_t i = 0; i < info.nr_map_ids && i < 16; i++) {
        int fd = bpf_map_get_fd_by_id(ids[i]);
        if (fd < 0)
            continue;
        struct bpf_map_info mi;
        memset(&mi, 0, sizeof mi);
        uint32_t ml = sizeof mi;
        if (bpf_obj_get_info_by_fd(fd, &mi, &ml) == 0 && strncmp(mi.name, name, sizeof mi.name - 1) == 0)
            return fd;
        close(fd);
    }
    return -ENOENT;
}

void csrh_bpf_object_close(struct csrh_bpf_object *o)
{
    if (!o)
        return;
    bpf_object__close(o->obj);
    free(o);
}

int csrh_bpf_map_next_key(int map_fd, const void *key, void *next)
{
    return bpf_map_get_next_key(map_fd, key, next) ? -errno : 0;
}

int csrh_bpf_map_lookup(int map_fd, const void *key, void *value)
{
    return bpf_map_lookup_elem(map_fd, key, value) ? -errno : 0;
}
