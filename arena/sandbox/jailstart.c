/* What runs a bwrap jail on the host, in one exec: join the jail's cgroups (so every process in
 * it is counted from the first), become its unprivileged host uid with no groups and no
 * inheritable or ambient capabilities, then exec bwrap. It does the work of a shell that writes
 * its pid into each cgroup.procs and `setpriv --reuid --regid --clear-groups --inh-caps=-all`,
 * for a fraction of their cost (`jail.spawn` falls back to those without a C compiler).
 *
 * Usage: jailstart [--cgroup PROCS_FILE]... [--uid UID] -- PROGRAM [ARG]...
 * Exit 125 when a cgroup cannot be joined, 126 when the uid cannot be taken, 127 when PROGRAM
 * cannot be run; each with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* capset(2)'s interface, from <linux/capability.h>, which not every libc's headers reach. */
struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };
#define CAP_VERSION_3 0x20080522

static int fail(int code, const char *what, const char *detail) {
    fprintf(stderr, "jailstart: %s %s: %s\n", what, detail, strerror(errno));
    return code;
}

static int join(const char *procs) {
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int ok = write(fd, pid, (size_t)n) == n;
    int saved = errno;
    close(fd);
    errno = saved;
    return ok ? 0 : -1;
}

static int become(const char *text) {
    char *end;
    unsigned long id = strtoul(text, &end, 10);
    if (!*text || *end || id == 0 || id > 0xfffffffeUL) {
        errno = EINVAL;
        return -1;
    }
    if (setgroups(0, NULL) < 0 || setresgid((gid_t)id, (gid_t)id, (gid_t)id) < 0 ||
        setresuid((uid_t)id, (uid_t)id, (uid_t)id) < 0)
        return -1;
    /* A uid other than 0 has no permitted or effective capabilities left; the inheritable ones
     * (and with them the ambient ones) go too, as with setpriv --inh-caps=-all. */
    struct cap_header header = {CAP_VERSION_3, 0};
    struct cap_data data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) < 0) return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return getuid() == (uid_t)id && geteuid() == (uid_t)id ? 0 : -1;
}

int main(int argc, char **argv) {
    int i = 1;
    const char *uid = NULL;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--cgroup") && i + 1 < argc) {
            if (join(argv[++i]) < 0) return fail(125, "cannot join the cgroup", argv[i]);
        } else if (!strcmp(argv[i], "--uid") && i + 1 < argc) {
            uid = argv[++i];
        } else {
            fprintf(stderr, "jailstart: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "usage: jailstart [--cgroup PROCS_FILE]... [--uid UID] -- PROGRAM [ARG]...\n");
        return 2;
    }
    if (uid && become(uid) < 0) return fail(126, "cannot become uid", uid);
    execv(argv[i + 1], argv + i + 1);
    return fail(127, "cannot run", argv[i + 1]);
}
