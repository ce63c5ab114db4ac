/* The agent's exec server, in C: the protocol of `execserver.py` in its `agent` mode (commands,
 * cancel, read, write, ping), for the one server every bubblewrap episode starts.
 *
 * Why C: a jail starts one server per episode, and an interpreter's start is most of a one-tool
 * episode's cost (CPython: about 18 ms of CPU before the first command; this: well under 1 ms).
 * The host's C compiler builds it once per source and compiler (`native.py`); it runs inside the
 * jail as the agent, and what it does mirrors execserver.py function by function, so read that
 * first. tests/sandbox/test_native_server.py holds the two to the same answers.
 *
 * Start: argv[1] is the length of the config JSON that comes first on stdin; frames follow.
 * Frame: 4-byte header length, 4-byte body length (big-endian), a JSON header, the body bytes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (1UL << 31)
#define LINGER 0.25
#define READ_CHUNK 65536

static void die(const char *why) {
    fprintf(stderr, "exec server: %s\n", why);
    exit(3);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------ buffers */

typedef struct {
    char *data;
    size_t len, size;
} buf;

static void buf_add(buf *b, const void *data, size_t n) {
    if (b->len + n > b->size) {
        b->size = (b->len + n) * 2 + 64;
        b->data = xrealloc(b->data, b->size);
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_printf(buf *b, const char *format, ...) {
    char small[256];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(args, format);
    vsnprintf(big, (size_t)n + 1, format, args);
    va_end(args);
    buf_add(b, big, (size_t)n);
    free(big);
}

static void buf_json_string(buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            buf_add(b, "\\", 1);
            buf_add(b, p, 1);
        } else if (*p < 0x20 || *p >= 0x7f) {
            buf_printf(b, "\\u%04x", *p);  /* strerror text is ASCII; anything else stays readable */
        } else {
            buf_add(b, p, 1);
        }
    }
    buf_add(b, "\"", 1);
}

/* --------------------------------------------------------------------------------------- JSON */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;

typedef struct jv {
    jkind kind;
    double num;           /* J_NUM, J_BOOL */
    char *str;            /* J_STR: NUL-terminated (NUL inside: `has_nul`) */
    size_t len;
    int has_nul;
    size_t n;             /* J_ARR, J_OBJ */
    struct jv **items;
    char **keys;          /* J_OBJ */
} jv;

static void jv_free(jv *v) {
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v);
}

typedef struct {
    const char *p, *end;
    int depth;
} parser;

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int hex4(parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(buf *b, unsigned cp) {
    unsigned char out[4];
    size_t n;
    if (cp >= 0xdc80 && cp <= 0xdcff) {  /* a byte that was not UTF-8, as Python's fsencode gives it back */
        out[0] = (unsigned char)(cp - 0xdc00);
        n = 1;
    } else if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        out[0] = (unsigned char)(0xf0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_add(b, out, n);
}

static jv *parse_value(parser *ps);

static char *parse_string(parser *ps, size_t *len, int *has_nul) {
    if (ps->p >= ps->end || *ps->p != '"') return NULL;
    ps->p++;
    buf b = {0};
    *has_nul = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c != '\\') {
            buf_add(&b, &c, 1);
            continue;
        }
        if (ps->p >= ps->end) goto bad;
        char e = *ps->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            buf_add(&b, &to[simple - "\"\\/bfnrt"], 1);
        } else if (e == 'u') {
            unsigned cp;
            if (hex4(ps, &cp)) goto bad;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                const char *save = ps->p;
                unsigned low;
                ps->p += 2;
                if (!hex4(ps, &low) && low >= 0xdc00 && low < 0xe000) cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                else ps->p = save;
            }
            if (cp == 0) *has_nul = 1;
            put_utf8(&b, cp);
        } else {
            goto bad;
        }
    }
    if (ps->p >= ps->end) goto bad;
    ps->p++;
    *len = b.len;
    buf_add(&b, "", 1);
    return b.data;
bad:
    free(b.data);
    return NULL;
}

static jv *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end || ++ps->depth > 64) return NULL;
    jv *v = xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    char c = *ps->p;
    if (c == '{' || c == '[') {
        int object = c == '{';
        v->kind = object ? J_OBJ : J_ARR;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
            ps->p++;
            goto done;
        }
        for (;;) {
            char *key = NULL;
            if (object) {
                size_t klen;
                int knul;
                skip_ws(ps);
                key = parse_string(ps, &klen, &knul);
                skip_ws(ps);
                if (!key || knul || ps->p >= ps->end || *ps->p != ':') {
                    free(key);
                    goto bad;
                }
                ps->p++;
            }
            jv *item = parse_value(ps);
            if (!item) {
                free(key);
                goto bad;
            }
            v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
            if (object) v->keys = xrealloc(v->keys, (v->n + 1) * sizeof *v->keys);
            v->items[v->n] = item;
            if (object) v->keys[v->n] = key;
            v->n++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
                ps->p++;
                goto done;
            }
            goto bad;
        }
    } else if (c == '"') {
        v->kind = J_STR;
        v->str = parse_string(ps, &v->len, &v->has_nul);
        if (!v->str) goto bad;
    } else if (ps->end - ps->p >= 4 && !memcmp(ps->p, "true", 4)) {
        v->kind = J_BOOL, v->num = 1, ps->p += 4;
    } else if (ps->end - ps->p >= 5 && !memcmp(ps->p, "false", 5)) {
        v->kind = J_BOOL, ps->p += 5;
    } else if (ps->end - ps->p >= 4 && !memcmp(ps->p, "null", 4)) {
        v->kind = J_NULL, ps->p += 4;
    } else {
        char number[64];
        size_t n = 0;
        while (ps->p + n < ps->end && n < sizeof number - 1 && strchr("+-0123456789.eE", ps->p[n]) && ps->p[n]) n++;
        memcpy(number, ps->p, n);
        number[n] = 0;
        char *stop;
        v->kind = J_NUM;
        v->num = strtod(number, &stop);
        if (n == 0 || *stop) goto bad;
        ps->p += n;
    }
done:
    ps->depth--;
    return v;
bad:
    jv_free(v);
    return NULL;
}

static jv *parse_json(const char *text, size_t len) {
    parser ps = {text, text + len, 0};
    jv *v = parse_value(&ps);
    skip_ws(&ps);
    if (v && ps.p != ps.end) {
        jv_free(v);
        return NULL;
    }
    return v;
}

static jv *get(const jv *obj, const char *key) {
    if (!obj || obj->kind != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

static const char *get_str(const jv *obj, const char *key, const char *otherwise) {
    jv *v = get(obj, key);
    return v && v->kind == J_STR ? v->str : otherwise;
}

static double get_num(const jv *obj, const char *key, double otherwise) {
    jv *v = get(obj, key);
    return v && (v->kind == J_NUM || v->kind == J_BOOL) ? v->num : otherwise;
}

static int truthy(const jv *v) {
    if (!v) return 0;
    switch (v->kind) {
    case J_NULL: return 0;
    case J_BOOL: case J_NUM: return v->num != 0;
    case J_STR: return v->len > 0;
    default: return v->n > 0;
    }
}

/* -------------------------------------------------------------------------------------- state */

static const char *workdir = "/work";
static char **base_env;  /* "KEY=VALUE", from the config */
static size_t base_env_n;
static int epfd;

static void write_all(const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            exit(3);  /* the host is gone */
        }
        p += w, n -= (size_t)w;
    }
}

static void send_frame(buf *header, const void *body, size_t body_len) {
    unsigned char head[8];
    uint32_t h = (uint32_t)header->len, b = (uint32_t)body_len;
    head[0] = h >> 24, head[1] = h >> 16, head[2] = h >> 8, head[3] = h;
    head[4] = b >> 24, head[5] = b >> 16, head[6] = b >> 8, head[7] = b;
    if (body_len < 65536) {
        buf frame = {0};
        buf_add(&frame, head, 8);
        buf_add(&frame, header->data, header->len);
        if (body_len) buf_add(&frame, body, body_len);
        write_all(frame.data, frame.len);
        free(frame.data);
    } else {
        write_all(head, 8);
        write_all(header->data, header->len);
        write_all(body, body_len);
    }
}

static void send_error(long long id, int code, const char *message) {
    buf h = {0};
    buf_printf(&h, "{\"id\":%lld,\"errno\":%d,\"message\":", id, code);
    buf_json_string(&h, message);
    buf_add(&h, "}", 1);
    send_frame(&h, NULL, 0);
    free(h.data);
}

static void send_error_about(long long id, int code, const char *format, const char *what) {
    buf message = {0};
    buf_printf(&message, format, what);
    buf_add(&message, "", 1);
    send_error(id, code, message.data);
    free(message.data);
}

static void send_empty(long long id, const void *body, size_t len) {
    buf h = {0};
    buf_printf(&h, "{\"id\":%lld}", id);
    send_frame(&h, body, len);
    free(h.data);
}

/* ---------------------------------------------------------------------------------- processes */

typedef struct {
    pid_t pid, ppid, pgid, sid;
    char state;
} proc_entry;

typedef struct {
    proc_entry *items;
    size_t n, size;
} proc_table;

static void read_proc_table(proc_table *t) {
    t->n = 0;
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], raw[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, raw, sizeof raw - 1);
        close(fd);
        if (n <= 0) continue;
        raw[n] = 0;
        char *close_paren = strrchr(raw, ')');
        proc_entry p;
        if (!close_paren || sscanf(close_paren + 2, "%c %d %d %d", &p.state, &p.ppid, &p.pgid, &p.sid) != 4) continue;
        p.pid = atoi(e->d_name);
        if (t->n == t->size) {
            t->size = t->size * 2 + 64;
            t->items = xrealloc(t->items, t->size * sizeof *t->items);
        }
        t->items[t->n++] = p;
    }
    closedir(d);
}

typedef struct {
    pid_t *items;
    size_t n, size;
} pid_set;

static int has(const pid_set *s, pid_t pid) {
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i] == pid) return 1;
    return 0;
}

static void add(pid_set *s, pid_t pid) {
    if (has(s, pid)) return;
    if (s->n == s->size) {
        s->size = s->size * 2 + 64;
        s->items = xrealloc(s->items, s->size * sizeof *s->items);
    }
    s->items[s->n++] = pid;
}

static const proc_entry *find(const proc_table *t, pid_t pid) {
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].pid == pid) return &t->items[i];
    return NULL;
}

static int alive(const proc_entry *p) { return p->state != 'Z' && p->state != 'X'; }

/* The tree of `root`: its process group, its session, what is already stopped, and every
 * descendant of those. */
static void tree_of(const proc_table *t, pid_t root, const pid_set *stopped, pid_set *out) {
    out->n = 0;
    add(out, root);
    for (size_t i = 0; i < stopped->n; i++) add(out, stopped->items[i]);
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].pgid == root || t->items[i].sid == root) add(out, t->items[i].pid);
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < t->n; i++)
            if (!has(out, t->items[i].pid) && has(out, t->items[i].ppid)) add(out, t->items[i].pid), grew = 1;
    }
}

/* SIGSTOP the tree again and again until a fresh look finds no new member: stopped processes
 * cannot fork, so the set stops growing. Then SIGKILL every one of them. */
static void kill_tree(pid_t root) {
    proc_table t = {0};
    pid_set stopped = {0}, wanted = {0};
    pid_t self = getpid();
    for (int round = 0; round < 200; round++) {
        read_proc_table(&t);
        tree_of(&t, root, &stopped, &wanted);
        int fresh = 0, settled = 1;
        for (size_t i = 0; i < wanted.n; i++) {
            pid_t pid = wanted.items[i];
            const proc_entry *p = find(&t, pid);
            if (!p || !alive(p) || pid == self || pid == 1) continue;
            if (!has(&stopped, pid)) {
                kill(pid, SIGSTOP);
                add(&stopped, pid);
                fresh = 1;
            } else if (p->state != 'T' && p->state != 't') {
                settled = 0;
            }
        }
        if (!fresh && settled) break;
        if (!fresh) usleep(1000);  /* SIGSTOP is asynchronous: let the last ones reach their stop */
    }
    for (size_t i = 0; i < stopped.n; i++) kill(stopped.items[i], SIGKILL);
    free(t.items);
    free(stopped.items);
    free(wanted.items);
}

/* ----------------------------------------------------------------------------------- commands */

enum { W_INPUT, W_OUT, W_ERR, W_STDIN, W_EXIT, W_DROP };

struct command;

typedef struct watch {
    int fd, kind;
    struct command *cmd;
    struct watch *next;  /* in `dropping` */
} watch;

typedef struct {
    buf data;
    size_t cap, dropped;
} capped;

typedef struct command {
    long long id;
    pid_t pid;
    double started, deadline, linger_until;
    int timed_out, exited, code;
    capped out, err;
    watch *pipes[2];  /* stdout, stderr: NULL once closed or handed to `dropping` */
    watch *in, *exit_watch;
    unsigned char *stdin_data;
    size_t stdin_len, stdin_off;
    struct command *next;
} command;

static command *commands;
static watch *dropping;  /* pipes left open by processes a finished command left behind */

static watch *watch_fd(int fd, int kind, command *cmd, uint32_t events) {
    watch *w = xmalloc(sizeof *w);
    w->fd = fd, w->kind = kind, w->cmd = cmd, w->next = NULL;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl failed");
    return w;
}

/* Freed after the batch of events it may still be in (`bury`): a dead watch's fd is -1. */
static watch *graveyard;

static void unwatch(watch *w) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    w->fd = -1;
    w->next = graveyard;
    graveyard = w;
}

static void bury(void) {
    while (graveyard) {
        watch *w = graveyard;
        graveyard = w->next;
        free(w);
    }
}

static void capped_add(capped *c, const char *data, size_t n) {
    size_t room = c->data.len < c->cap ? c->cap - c->data.len : 0;
    size_t kept = n < room ? n : room;
    if (kept) buf_add(&c->data, data, kept);
    c->dropped += n - kept;
}

static void finish(command *c);

static void maybe_done(command *c) {
    if (!c->exited || c->pipes[0] || c->pipes[1]) return;
    finish(c);
}

static void poll_exit(command *c) {
    if (c->exited) return;
    int status;
    pid_t got = waitpid(c->pid, &status, WNOHANG);
    if (got == 0) return;
    if (got < 0) c->code = 255;
    else if (WIFEXITED(status)) c->code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) c->code = 128 + WTERMSIG(status);
    else return;
    c->exited = 1;
    if (c->exit_watch) unwatch(c->exit_watch), c->exit_watch = NULL;
    c->linger_until = now() + LINGER;
    maybe_done(c);
}

static void close_stdin(command *c) {
    if (c->in) unwatch(c->in), c->in = NULL;
}

static void finish(command *c) {
    for (command **p = &commands; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    close_stdin(c);
    buf h = {0};
    buf_printf(&h, "{\"id\":%lld,\"exit\":%d,\"timed_out\":%s,\"seconds\":%.9g,\"out\":%zu,\"dropped_out\":%zu,\"dropped_err\":%zu}",
               c->id, c->code, c->timed_out ? "true" : "false", now() - c->started, c->out.data.len, c->out.dropped,
               c->err.dropped);
    buf body = {0};
    if (c->out.data.len) buf_add(&body, c->out.data.data, c->out.data.len);
    if (c->err.data.len) buf_add(&body, c->err.data.data, c->err.data.len);
    send_frame(&h, body.data, body.len);
    free(h.data);
    free(body.data);
    free(c->out.data.data);
    free(c->err.data.data);
    free(c->stdin_data);
    free(c);
}

static void on_output(watch *w) {
    char chunk[READ_CHUNK];
    command *c = w->cmd;
    int which = w->kind == W_OUT ? 0 : 1;
    ssize_t n = read(w->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) {
        capped_add(which ? &c->err : &c->out, chunk, (size_t)n);
        return;
    }
    unwatch(w);  /* its end, or broken */
    c->pipes[which] = NULL;
    maybe_done(c);
}

static void on_stdin(watch *w) {
    command *c = w->cmd;
    size_t left = c->stdin_len - c->stdin_off;
    ssize_t n = write(w->fd, c->stdin_data + c->stdin_off, left < READ_CHUNK ? left : READ_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    c->stdin_off = n < 0 ? c->stdin_len : c->stdin_off + (size_t)n;  /* closed by the command: the rest is not wanted */
    if (c->stdin_off >= c->stdin_len) close_stdin(c);
}

static void on_drop(watch *w) {
    char chunk[READ_CHUNK];
    ssize_t n = read(w->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) return;
    for (watch **p = &dropping; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    unwatch(w);
}

static void expire(command *c, double t) {
    if (!c->exited && t >= c->deadline && !c->timed_out) {
        c->timed_out = 1;
        kill_tree(c->pid);
    } else if (c->exited && t >= c->linger_until) {
        for (int i = 0; i < 2; i++) {
            watch *w = c->pipes[i];
            if (!w) continue;
            c->pipes[i] = NULL;
            w->kind = W_DROP, w->cmd = NULL, w->next = dropping;
            dropping = w;
        }
        maybe_done(c);
    }
}

/* `name` as exec would run it, searched on the command's own PATH (as subprocess does). */
static char *find_program(const char *name, char **envp) {
    if (strchr(name, '/')) return strdup(name);
    const char *path = "/bin:/usr/bin";
    for (char **e = envp; *e; e++)
        if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
    for (const char *p = path;; p++) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *candidate = xmalloc(len + strlen(name) + 2);
        if (len) sprintf(candidate, "%.*s/%s", (int)len, p, name);
        else sprintf(candidate, "%s", name);  /* an empty entry is the current directory */
        struct stat st;
        if (!access(candidate, X_OK) && !(stat(candidate, &st) == 0 && S_ISDIR(st.st_mode))) return candidate;
        free(candidate);
        if (!colon) break;
        p = colon;
    }
    errno = ENOENT;
    return NULL;
}

static void env_set(char ***envp, size_t *n, const char *key, const char *value) {
    size_t klen = strlen(key);
    char *entry = xmalloc(klen + strlen(value) + 2);
    sprintf(entry, "%s=%s", key, value);
    for (size_t i = 0; i < *n; i++)
        if (!strncmp((*envp)[i], key, klen) && (*envp)[i][klen] == '=') {
            free((*envp)[i]);
            (*envp)[i] = entry;
            return;
        }
    *envp = xrealloc(*envp, (*n + 2) * sizeof **envp);
    (*envp)[(*n)++] = entry;
    (*envp)[*n] = NULL;
}

static void free_strings(char **list, size_t n) {
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

static void spawn_failed(long long id, const char *argv0, int code, const char *filename) {
    buf message = {0};
    buf_printf(&message, "cannot run %s: %s", argv0, strerror(code));
    if (filename) buf_printf(&message, ": %s", filename);
    if (code == EAGAIN) buf_printf(&message, " (the sandbox's process limit is reached)");
    buf_add(&message, "\n", 1);
    buf h = {0};
    buf_printf(&h, "{\"id\":%lld,\"exit\":%d,\"timed_out\":false,\"seconds\":0.0,\"out\":0,\"dropped_out\":0,\"dropped_err\":0}",
               id, code == ENOENT ? 127 : 126);
    send_frame(&h, message.data, message.len);
    free(h.data);
    free(message.data);
}

static void start_command(const jv *req, long long id, const char *body, size_t body_len) {
    const jv *argv_v = get(req, "argv");
    const char *argv0 = "the command";
    if (argv_v && argv_v->kind == J_ARR && argv_v->n && argv_v->items[0]->kind == J_STR) argv0 = argv_v->items[0]->str;
    if (!argv_v || argv_v->kind != J_ARR || argv_v->n == 0) {
        spawn_failed(id, argv0, EINVAL, NULL);
        return;
    }
    /* The command line and environment, each string checked: no NUL can reach exec. */
    char **argv = xmalloc((argv_v->n + 1) * sizeof *argv);
    size_t argc = 0;
    int bad = 0;
    for (size_t i = 0; i < argv_v->n; i++) {
        const jv *a = argv_v->items[i];
        if (a->kind != J_STR || a->has_nul) bad = 1;
        argv[argc++] = strdup(a->kind == J_STR ? a->str : "");
    }
    argv[argc] = NULL;
    size_t envn = 0;
    char **envp = xmalloc(sizeof *envp);
    envp[0] = NULL;
    for (size_t i = 0; i < base_env_n; i++) {
        char *eq = strchr(base_env[i], '=');
        *eq = 0;
        env_set(&envp, &envn, base_env[i], eq + 1);
        *eq = '=';
    }
    const jv *extra = get(req, "env");
    if (extra && extra->kind == J_OBJ)
        for (size_t i = 0; i < extra->n; i++) {
            if (extra->items[i]->kind != J_STR || extra->items[i]->has_nul || strchr(extra->keys[i], '=') || !extra->keys[i][0]) bad = 1;
            else env_set(&envp, &envn, extra->keys[i], extra->items[i]->str);
        }
    const char *cwd = get_str(req, "cwd", NULL);
    if (!cwd || !cwd[0]) cwd = workdir;
    int want_stdin = truthy(get(req, "stdin"));
    char *program = NULL;
    int fds[6] = {-1, -1, -1, -1, -1, -1};  /* child stdin, parent stdin, out r, out w, err r, err w */
    if (bad) {
        spawn_failed(id, argv0, EINVAL, "embedded null byte or a value that is not a string");
        goto out;
    }
    if (want_stdin) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) goto failed_errno;
        fds[0] = p[0], fds[1] = p[1];
    } else if ((fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        goto failed_errno;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) goto failed_errno;
    fds[2] = p[0], fds[3] = p[1];
    if (pipe2(p, O_CLOEXEC) < 0) goto failed_errno;
    fds[4] = p[0], fds[5] = p[1];
    if (chdir(cwd) < 0) {
        spawn_failed(id, argv0, errno, cwd);
        goto out;
    }
    program = find_program(argv[0], envp);
    if (!program) {
        chdir("/");
        spawn_failed(id, argv0, errno, argv[0]);
        goto out;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    posix_spawn_file_actions_adddup2(&actions, fds[3], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[5], 2);
    posix_spawnattr_init(&attr);
    sigset_t defaults, none;
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int err = posix_spawn(&pid, program, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    chdir("/");
    if (err) {
        spawn_failed(id, argv0, err, program);
        goto out;
    }
    command *c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->id = id;
    c->pid = pid;
    c->started = now();
    double timeout = get_num(req, "timeout", 60);
    c->deadline = c->started + (timeout > 0.001 ? timeout : 0.001);
    double cap = get_num(req, "cap", 1 << 22);
    c->out.cap = c->err.cap = cap > 0 ? (size_t)cap : 0;
    close(fds[0]), close(fds[3]), close(fds[5]);
    fds[0] = fds[3] = fds[5] = -1;
    fcntl(fds[2], F_SETFL, O_NONBLOCK);
    fcntl(fds[4], F_SETFL, O_NONBLOCK);
    c->pipes[0] = watch_fd(fds[2], W_OUT, c, EPOLLIN);
    c->pipes[1] = watch_fd(fds[4], W_ERR, c, EPOLLIN);
    fds[2] = fds[4] = -1;
    if (want_stdin) {
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        if (body_len) {
            c->stdin_data = xmalloc(body_len);
            memcpy(c->stdin_data, body, body_len);
            c->stdin_len = body_len;
            c->in = watch_fd(fds[1], W_STDIN, c, EPOLLOUT);
        } else {
            close(fds[1]);
        }
        fds[1] = -1;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        fcntl(pidfd, F_SETFD, FD_CLOEXEC);
        c->exit_watch = watch_fd(pidfd, W_EXIT, c, EPOLLIN);
    }
    c->next = commands;
    commands = c;
    goto out;
failed_errno:
    spawn_failed(id, argv0, errno, NULL);
out:
    for (int i = 0; i < 6; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(program);
    free_strings(argv, argc);
    free_strings(envp, envn);
}

/* -------------------------------------------------------------------------------------- files */

static char *resolve(const char *path) {
    char *out = xmalloc(strlen(workdir) + strlen(path) + 2);
    if (path[0] == '/') strcpy(out, path);
    else sprintf(out, "%s%s%s", workdir, workdir[strlen(workdir) - 1] == '/' ? "" : "/", path);
    return out;
}

static int read_file(const jv *req, buf *out, const char **why) {
    char *path = resolve(get_str(req, "path", ""));
    double cap_v = get_num(req, "cap", (double)(1 << 28));
    size_t cap = cap_v > 0 ? (size_t)cap_v : 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    free(path);
    if (fd < 0) return errno;
    struct stat st;
    int code = 0;
    if (fstat(fd, &st) < 0) code = errno;
    else if (S_ISDIR(st.st_mode)) code = EISDIR, *why = "Is a directory";
    else if (!S_ISREG(st.st_mode)) code = EINVAL, *why = "Not a regular file";
    char *chunk = code ? NULL : xmalloc(1 << 20);
    while (!code && out->len <= cap) {
        size_t want = cap + 1 - out->len;
        ssize_t n = read(fd, chunk, want < (1 << 20) ? want : (1 << 20));
        if (n < 0) {
            if (errno == EINTR) continue;
            code = errno;
            break;
        }
        if (n == 0) break;
        buf_add(out, chunk, (size_t)n);
    }
    free(chunk);
    if (!code && out->len > cap) code = EFBIG;
    close(fd);
    return code;
}

static int make_parents(const char *path) {
    char *copy = strdup(path);
    char *slash = strrchr(copy, '/');
    int code = 0;
    if (slash && slash != copy) {
        *slash = 0;
        for (char *p = copy + 1;; p++) {
            if (*p == '/' || *p == 0) {
                char keep = *p;
                *p = 0;
                struct stat st;
                if (mkdir(copy, 0777) < 0 && errno != EEXIST) code = errno;
                else if (stat(copy, &st) < 0) code = errno;
                else if (!S_ISDIR(st.st_mode)) code = keep ? ENOTDIR : EEXIST;
                *p = keep;
                if (code || !keep) break;
            }
        }
    }
    free(copy);
    return code;
}

static int write_file(const jv *req, const char *body, size_t len, const char **why) {
    char *path = resolve(get_str(req, "path", ""));
    struct stat st;
    int code = 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(path);
        *why = "Is a directory";
        return EISDIR;
    }
    if ((code = make_parents(path))) {
        free(path);
        return code;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, (mode_t)get_num(req, "mode", 0666));
    free(path);
    if (fd < 0) return errno;
    if (fstat(fd, &st) < 0) code = errno;
    else if (!S_ISREG(st.st_mode)) code = EINVAL, *why = "Not a regular file";
    while (!code && len) {
        ssize_t n = write(fd, body, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            code = errno;
            break;
        }
        body += n, len -= (size_t)n;
    }
    close(fd);
    return code;
}

/* --------------------------------------------------------------------------------------- loop */

static void handle(const char *header, size_t head_len, const char *body, size_t body_len) {
    jv *req = parse_json(header, head_len);
    if (!req || req->kind != J_OBJ) die("a frame's header is not a JSON object");
    long long id = (long long)get_num(req, "id", 0);
    const char *op = get_str(req, "op", "");
    const char *why = NULL;
    int code = 0;
    buf data = {0};
    if (!strcmp(op, "exec")) {
        start_command(req, id, body, body_len);
        goto done;
    }
    if (!strcmp(op, "cancel")) {
        long long target = (long long)get_num(req, "target", -1);
        for (command *c = commands; c; c = c->next)
            if (c->id == target && !c->exited) kill_tree(c->pid);
        goto done;
    }
    if (!strcmp(op, "read")) {
        code = read_file(req, &data, &why);
    } else if (!strcmp(op, "write")) {
        code = write_file(req, body, body_len, &why);
    } else if (!strcmp(op, "ping")) {
    } else if (!strcmp(op, "kill_uid") || !strcmp(op, "freeze_uid") || !strcmp(op, "thaw_uid") ||
               !strcmp(op, "mkdir") || !strcmp(op, "rmtree")) {
        send_error_about(id, EPERM, "%s needs the root exec server", op);
        goto done;
    } else {
        send_error_about(id, ENOSYS, "unknown operation '%s'", op);
        goto done;
    }
    if (code == EFBIG) {
        char message[128];
        snprintf(message, sizeof message, "File is larger than the sandbox's limit of %.0f bytes",
                 get_num(req, "cap", (double)(1 << 28)));
        send_error(id, code, message);
    } else if (code) {
        send_error(id, code, why ? why : strerror(code));
    } else {
        send_empty(id, data.data, data.len);
    }
done:
    free(data.data);
    jv_free(req);
}

static buf input;
static size_t input_start;
static int input_eof;

static void on_input(watch *w) {
    char chunk[1 << 16];
    ssize_t n = read(w->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        input_eof = 1;
        epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
        return;
    }
    buf_add(&input, chunk, (size_t)n);
}

/* Every whole frame buffered, handled in order. */
static void drain_input(void) {
    while (input.len - input_start >= 8) {
        const unsigned char *h = (const unsigned char *)input.data + input_start;
        size_t head_len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        size_t body_len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (head_len > MAX_FRAME || body_len > MAX_FRAME) die("bad frame");
        if (input.len - input_start < 8 + head_len + body_len) break;
        const char *start = input.data + input_start + 8;
        input_start += 8 + head_len + body_len;
        handle(start, head_len, start + head_len, body_len);
    }
    if (input_start == input.len) {
        input.len = input_start = 0;
    } else if (input_start > (1 << 20)) {
        memmove(input.data, input.data + input_start, input.len - input_start);
        input.len -= input_start;
        input_start = 0;
    }
}

static void read_config(size_t len, const char **rest, size_t *rest_len) {
    static buf raw;
    char chunk[1 << 16];
    while (raw.len < len) {
        ssize_t n = read(0, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) exit(3);
        buf_add(&raw, chunk, (size_t)n);
    }
    *rest = raw.data + len;
    *rest_len = raw.len - len;
    jv *config = parse_json(raw.data, len);
    if (!config || config->kind != J_OBJ) die("the config is not a JSON object");
    if (strcmp(get_str(config, "mode", "agent"), "agent")) die("this server runs only in agent mode");
    workdir = strdup(get_str(config, "workdir", "/work"));
    const jv *env = get(config, "env");
    if (env && env->kind == J_OBJ) {
        base_env = xmalloc((env->n + 1) * sizeof *base_env);
        for (size_t i = 0; i < env->n; i++) {
            if (env->items[i]->kind != J_STR) continue;
            char *entry = xmalloc(strlen(env->keys[i]) + env->items[i]->len + 2);
            sprintf(entry, "%s=%s", env->keys[i], env->items[i]->str);
            base_env[base_env_n++] = entry;
        }
    } else {
        extern char **environ;
        for (char **e = environ; *e; e++) base_env_n++;
        base_env = xmalloc((base_env_n + 1) * sizeof *base_env);
        for (size_t i = 0; i < base_env_n; i++) base_env[i] = strdup(environ[i]);
    }
    static const struct { const char *name; int resource; } names[] = {
        {"cpu", RLIMIT_CPU}, {"fsize", RLIMIT_FSIZE}, {"as", RLIMIT_AS}, {"nproc", RLIMIT_NPROC},
        {"nofile", RLIMIT_NOFILE}, {"data", RLIMIT_DATA}, {"stack", RLIMIT_STACK}, {"core", RLIMIT_CORE},
        {"rss", RLIMIT_RSS}, {"memlock", RLIMIT_MEMLOCK},
    };
    const jv *limits = get(config, "rlimits");
    for (size_t i = 0; limits && limits->kind == J_OBJ && i < limits->n; i++) {
        size_t j = 0;
        while (j < sizeof names / sizeof *names && strcmp(names[j].name, limits->keys[i])) j++;
        if (j == sizeof names / sizeof *names) die("an unknown rlimit in the config");
        struct rlimit r = {(rlim_t)limits->items[i]->num, (rlim_t)limits->items[i]->num};
        if (setrlimit(names[j].resource, &r) < 0) die("cannot set an rlimit");
    }
    jv_free(config);
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: exec-server CONFIG_LENGTH (the config, then frames, on stdin)");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);  /* inherited ignored, it would reap our commands before we could */
    /* Whatever this server was started with beyond its three streams stays out of commands. */
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        int own = dirfd(d);
        while ((e = readdir(d)))
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) > 2 && atoi(e->d_name) != own)
                fcntl(atoi(e->d_name), F_SETFD, FD_CLOEXEC);
        closedir(d);
    }
    const char *rest;
    size_t rest_len;
    read_config(strtoul(argv[1], NULL, 10), &rest, &rest_len);
    /* The OOM score every command inherits (see execserver.py: scores must only differ by size). */
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom >= 0) {
        if (write(oom, "500", 3) < 0) { /* not allowed here: the score stays as it is */ }
        close(oom);
    }
    umask(022);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) die("no epoll");
    watch *source = xmalloc(sizeof *source);
    source->fd = 0, source->kind = W_INPUT, source->cmd = NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = source};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl failed on stdin");
    struct stat st;
    buf hello = {0};
    buf_printf(&hello, "{\"hello\":1,\"pid\":%d,\"mode\":\"agent\",\"work_dev\":", (int)getpid());
    if (stat(workdir, &st) == 0) buf_printf(&hello, "%llu}", (unsigned long long)st.st_dev);
    else buf_printf(&hello, "null}");
    send_frame(&hello, NULL, 0);
    free(hello.data);
    buf_add(&input, rest, rest_len);  /* frames that came with the config */
    for (;;) {
        drain_input();
        if (input_eof) {
            for (command *c = commands; c; c = c->next)
                if (!c->exited) kill_tree(c->pid);
            return 0;
        }
        double t = now(), next = -1;
        int polling = 0;
        for (command *c = commands; c; c = c->next) {
            double at = c->exited ? c->linger_until : c->deadline;
            if (next < 0 || at < next) next = at;
            if (!c->exit_watch && !c->exited) polling = 1;
        }
        int wait_ms = next < 0 ? -1 : (int)((next - t) * 1000 + 1);
        if (next >= 0 && wait_ms < 0) wait_ms = 0;
        if (polling && (wait_ms < 0 || wait_ms > 10)) wait_ms = 10;
        struct epoll_event events[64];
        int n = epoll_wait(epfd, events, 64, wait_ms);
        for (int i = 0; i < n; i++) {
            watch *w = events[i].data.ptr;
            if (w->fd < 0) continue;  /* closed by an event before it in this batch */
            switch (w->kind) {
            case W_INPUT: on_input(w); break;
            case W_OUT: case W_ERR: on_output(w); break;
            case W_STDIN: on_stdin(w); break;
            case W_EXIT: poll_exit(w->cmd); break;
            case W_DROP: on_drop(w); break;
            }
        }
        t = now();
        for (command *c = commands, *next_c; c; c = next_c) {
            next_c = c->next;  /* `c` may finish (and be freed) here */
            if (!c->exit_watch) poll_exit(c);
        }
        for (command *c = commands, *next_c; c; c = next_c) {
            next_c = c->next;
            expire(c, t);
        }
        bury();
    }
}
