/* Freshness benchmark (issue 16): how long a finished unit takes from the device's publish to
 * the metrics update that includes it on `takt/v1/metrics/{site}/{line}/1m`.
 *
 * One process, two libmosquitto connections (threaded loops), one clock (CLOCK_MONOTONIC):
 *   - the publisher sends unit messages at a steady RATE per second for SECONDS, round-robin
 *     over every station of LINES lines of SITE (ids blade-01 … and the four Bishan stations,
 *     `eol` the output station), ts = now, one source per station (boot = the run's start
 *     second, seq +1 per message), at QOS;
 *   - the subscriber (QoS 1, subscribed before the first publish) reads the lines' `1m` rows.
 *     A unit of an output station is the k-th unit of its line's minute window; it is seen when
 *     a row of that window arrives with good + scrap >= k (units of one station arrive in
 *     order on one connection, so the count only grows). Latency = that arrival − the moment
 *     the unit was handed to mosquitto_publish.
 * With SSE_PORT=N in the environment the rows are read from taktd's live stream instead
 * (`GET /api/v1/live?site=SITE` on 127.0.0.1:N, HTTP/1.0, its `window` events): the same unit,
 * timed to the Server-Sent Event that includes it.
 * After the last publish it waits up to DRAIN seconds for every output unit to be seen, then
 * prints one line of key value pairs: sent, the publish rate reached, units measured, units
 * never seen (missing), and p50 / p99 / max latency in ms.
 *
 *   cc -O2 -o fresh_bench fresh_bench.c $(pkg-config --cflags --libs libmosquitto) -lpthread -lm
 *   fresh_bench PORT QOS RATE SECONDS [DRAIN [SITE [LINES]]]   (DRAIN 60, SITE bishan, LINES 16)
 */
#include <arpa/inet.h>
#include <math.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATIONS 4
static const char *station_ids[STATIONS] = {"stacking", "welding", "formation", "eol"};
#define OUTPUT_STATION 3

static int lines;
static const char *site = "bishan";
static long first_minute;   /* epoch ms of the first window */
static int windows;         /* minute windows tracked per line */
static long capacity;       /* units per (line, window) at most */

/* Per (line, window): publish times of its output units (index k-1 for the k-th unit), how
 * many were published, how many a row has covered so far. Guarded by `lock`. */
static double *published_at;
static long *published;
static long *covered;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double *latencies;   /* seconds, one per covered unit */
static long measured;
static long latency_capacity;
static long rows_received;
static atomic_int connected_pub, subscribed;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The integer after `"key":` in a JSON object, or -1. */
static long json_int(const char *json, int len, const char *key) {
    char pattern[32];
    int n = snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *end = json + len;
    for (const char *p = json; p + n <= end; p++) {
        if (memcmp(p, pattern, n) == 0) {
            p += n;
            while (p < end && *p == ' ') p++;
            long v = 0;
            int digits = 0;
            while (p < end && *p >= '0' && *p <= '9') { v = v * 10 + (*p - '0'); p++; digits++; }
            return digits ? v : -1;
        }
    }
    return -1;
}

static void on_sub_connect(struct mosquitto *m, void *obj, int rc) {
    (void)obj;
    if (rc != 0) { fprintf(stderr, "fresh_bench: subscriber refused (%d)\n", rc); exit(1); }
    char filter[128];
    snprintf(filter, sizeof filter, "takt/v1/metrics/%s/+/1m", site);
    mosquitto_subscribe(m, NULL, filter, 1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted) {
    (void)m; (void)obj; (void)mid; (void)n; (void)granted;
    atomic_store(&subscribed, 1);
}

/* One `1m` row of line `line` (0-based) arrived at `now`: the output units it covers are seen. */
static void row_arrived(const char *json, int len, int line, double now) {
    if (line < 0 || line >= lines) return;
    long start = json_int(json, len, "start");
    long good = json_int(json, len, "good");
    long scrap = json_int(json, len, "scrap");
    if (start < first_minute || good < 0 || scrap < 0) return;
    long w = (start - first_minute) / 60000;
    if (w >= windows) return;
    long slot = (long)line * windows + w;
    long count = good + scrap;
    pthread_mutex_lock(&lock);
    rows_received++;
    if (count > published[slot]) count = published[slot];  /* cannot be: a row never runs ahead */
    for (long k = covered[slot]; k < count; k++) {
        if (measured < latency_capacity) latencies[measured++] = now - published_at[slot * capacity + k];
    }
    if (count > covered[slot]) covered[slot] = count;
    pthread_mutex_unlock(&lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m; (void)obj;
    double now = mono();
    /* takt/v1/metrics/SITE/blade-NN/1m */
    const char *dash = strstr(msg->topic, "/blade-");
    if (!dash) return;  /* _site */
    row_arrived(msg->payload, msg->payloadlen, atoi(dash + 7) - 1, now);
}

/* The live stream's reader (SSE_PORT): each `data:` line holding a line's `1m` row. */
static int sse_port;
static atomic_int sse_stop;
static void *sse_reader(void *arg) {
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)sse_port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { fprintf(stderr, "fresh_bench: no live stream\n"); exit(1); }
    char request[256];
    int n = snprintf(request, sizeof request, "GET /api/v1/live?site=%s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n", site);
    if (write(fd, request, n) != n) { fprintf(stderr, "fresh_bench: live stream request failed\n"); exit(1); }
    static char buffer[1 << 20];
    size_t used = 0;
    int headers_done = 0;
    struct timeval timeout = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (!atomic_load(&sse_stop)) {
        ssize_t got = read(fd, buffer + used, sizeof buffer - used - 1);
        if (got == 0) break;
        if (got < 0) continue;  /* the time-out: look at sse_stop */
        double now = mono();
        used += (size_t)got;
        buffer[used] = 0;
        char *line = buffer;
        if (!headers_done) {
            char *end = strstr(buffer, "\r\n\r\n");
            if (!end) continue;
            if (!strstr(buffer, " 200")) { fprintf(stderr, "fresh_bench: live stream refused: %.80s\n", buffer); exit(1); }
            headers_done = 1;
            atomic_store(&subscribed, 1);
            line = end + 4;
        }
        char *newline;
        while ((newline = memchr(line, '\n', buffer + used - line))) {
            *newline = 0;
            if (strncmp(line, "data:", 5) == 0 && strstr(line, "\"window\":\"1m\"")) {
                const char *blade = strstr(line, "\"line\":\"blade-");
                if (blade) row_arrived(line, (int)(newline - line), atoi(blade + 14) - 1, now);
            }
            line = newline + 1;
        }
        used = (size_t)(buffer + used - line);
        memmove(buffer, line, used);
    }
    close(fd);
    return NULL;
}

static void on_pub_connect(struct mosquitto *m, void *obj, int rc) {
    (void)m; (void)obj;
    if (rc != 0) { fprintf(stderr, "fresh_bench: publisher refused (%d)\n", rc); exit(1); }
    atomic_store(&connected_pub, 1);
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double p) {
    if (measured == 0) return NAN;
    long i = (long)ceil(p * measured) - 1;
    if (i < 0) i = 0;
    if (i >= measured) i = measured - 1;
    return latencies[i];
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 8) {
        fprintf(stderr, "usage: fresh_bench PORT QOS RATE SECONDS [DRAIN [SITE [LINES]]]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int qos = atoi(argv[2]);
    double rate = atof(argv[3]);
    double seconds = atof(argv[4]);
    double drain = argc > 5 ? atof(argv[5]) : 60;
    if (argc > 6) site = argv[6];
    lines = argc > 7 ? atoi(argv[7]) : 16;
    if (rate <= 0 || seconds <= 0 || lines <= 0 || lines > 99) { fprintf(stderr, "fresh_bench: bad arguments\n"); return 2; }

    long total = (long)(rate * seconds);
    long now_ms = wall_ms();
    first_minute = now_ms / 60000 * 60000;
    windows = (int)(seconds / 60) + 3;
    capacity = (long)(rate / (lines * STATIONS) * 61) + 64;
    published_at = malloc(sizeof(double) * lines * windows * capacity);
    published = calloc((size_t)lines * windows, sizeof(long));
    covered = calloc((size_t)lines * windows, sizeof(long));
    latency_capacity = total / STATIONS + lines + 1;
    latencies = malloc(sizeof(double) * latency_capacity);
    long *seq = calloc((size_t)lines * STATIONS, sizeof(long));
    if (!published_at || !published || !covered || !latencies || !seq) { fprintf(stderr, "fresh_bench: out of memory\n"); return 1; }
    long boot = now_ms / 1000;

    mosquitto_lib_init();
    char id[64];
    struct mosquitto *sub = NULL;
    pthread_t sse_thread;
    sse_port = getenv("SSE_PORT") ? atoi(getenv("SSE_PORT")) : 0;
    if (sse_port > 0) {
        pthread_create(&sse_thread, NULL, sse_reader, NULL);
    } else {
        snprintf(id, sizeof id, "fresh-sub-%d", (int)getpid());
        sub = mosquitto_new(id, true, NULL);
        mosquitto_int_option(sub, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_connect_callback_set(sub, on_sub_connect);
        mosquitto_subscribe_callback_set(sub, on_subscribe);
        mosquitto_message_callback_set(sub, on_message);
        if (mosquitto_connect(sub, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "fresh_bench: connect failed\n"); return 1; }
        mosquitto_loop_start(sub);
    }

    snprintf(id, sizeof id, "fresh-pub-%d", (int)getpid());
    struct mosquitto *pub = mosquitto_new(id, true, NULL);
    mosquitto_max_inflight_messages_set(pub, 1000);
    mosquitto_int_option(pub, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(pub, on_pub_connect);
    if (mosquitto_connect(pub, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "fresh_bench: connect failed\n"); return 1; }
    mosquitto_loop_start(pub);
    for (int i = 0; i < 5000 && !(atomic_load(&connected_pub) && atomic_load(&subscribed)); i++) usleep(1000);
    if (!atomic_load(&connected_pub) || !atomic_load(&subscribed)) { fprintf(stderr, "fresh_bench: not connected\n"); return 1; }

    char topic[160], payload[160];
    double start = mono();
    long sent = 0;
    long stations = (long)lines * STATIONS;
    while (sent < total) {
        double elapsed = mono() - start;
        long due = (long)(elapsed * rate) + 1;
        if (due > total) due = total;
        while (sent < due) {
            long idx = sent % stations;
            int line = (int)(idx / STATIONS), station = (int)(idx % STATIONS);
            long ts = wall_ms();
            snprintf(topic, sizeof topic, "takt/v1/%s/blade-%02d/%s/unit", site, line + 1, station_ids[station]);
            int len = snprintf(payload, sizeof payload, "{\"ts\":%ld,\"seq\":%ld,\"boot\":%ld,\"good\":1,\"cycle_ms\":6000}",
                               ts, seq[idx]++, boot);
            if (station == OUTPUT_STATION) {
                long w = (ts - first_minute) / 60000;
                long slot = (long)line * windows + w;
                if (w < 0 || w >= windows || published[slot] >= capacity) { fprintf(stderr, "fresh_bench: window table full\n"); return 1; }
                pthread_mutex_lock(&lock);
                published_at[slot * capacity + published[slot]] = mono();
                published[slot]++;
                pthread_mutex_unlock(&lock);
            }
            int rc = mosquitto_publish(pub, NULL, topic, len, payload, qos, false);
            if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "fresh_bench: publish failed: %s\n", mosquitto_strerror(rc)); return 1; }
            sent++;
        }
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
    double publish_s = mono() - start;

    /* Wait for every output unit to be covered (or DRAIN seconds). */
    long expected = 0;
    for (long s = 0; s < (long)lines * windows; s++) expected += published[s];
    double deadline = mono() + drain;
    long seen = 0;
    while (mono() < deadline) {
        pthread_mutex_lock(&lock);
        seen = 0;
        for (long s = 0; s < (long)lines * windows; s++) seen += covered[s];
        pthread_mutex_unlock(&lock);
        if (seen >= expected) break;
        usleep(10000);
    }
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, false);
    if (sub) {
        mosquitto_disconnect(sub);
        mosquitto_loop_stop(sub, false);
    } else {
        atomic_store(&sse_stop, 1);
        pthread_join(sse_thread, NULL);
    }

    pthread_mutex_lock(&lock);
    qsort(latencies, measured, sizeof(double), compare);
    printf("%sqos %d rate %.0f seconds %.1f sent %ld publish_rate %.0f units %ld measured %ld missing %ld rows %ld "
           "p50_ms %.1f p99_ms %.1f max_ms %.1f\n",
           sub ? "" : "via sse ", qos, rate, seconds, sent, sent / publish_s, expected, measured, expected - seen, rows_received,
           percentile(0.50) * 1000, percentile(0.99) * 1000, measured ? latencies[measured - 1] * 1000 : NAN);
    pthread_mutex_unlock(&lock);
    mosquitto_destroy(pub);
    if (sub) mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    return 0;
}
