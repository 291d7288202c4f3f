/* Replay publisher for issue 6's end-to-end benchmark: publishes a pre-generated
 * `topic<TAB>payload` file (takt-sim --out) at full speed, at QoS 0 or 1, with at most WINDOW
 * messages in flight (QoS 1: until PUBACK; QoS 0: until written to the socket), over one
 * connection with TCP_NODELAY. Prints messages/s until the last is acknowledged (QoS 1) or
 * written (QoS 0), and the wall-clock time (CLOCK_REALTIME, seconds) it started publishing.
 *
 *   cc -O2 -o replay_pub replay_pub.c $(pkg-config --cflags --libs libmosquitto)
 *   replay_pub PORT FILE QOS [WINDOW] [COUNT]     (WINDOW 1000; COUNT: every line)
 */
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long done;
static atomic_int connected;

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m; (void)obj; (void)mid;
    atomic_fetch_add(&done, 1);
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)m; (void)obj;
    if (rc != 0) { fprintf(stderr, "replay_pub: connect refused (%d)\n", rc); exit(1); }
    atomic_store(&connected, 1);
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) { fprintf(stderr, "usage: replay_pub PORT FILE QOS [WINDOW] [COUNT]\n"); return 2; }
    int port = atoi(argv[1]);
    int qos = atoi(argv[3]);
    long window = argc >= 5 ? atol(argv[4]) : 1000;
    long limit = argc >= 6 ? atol(argv[5]) : -1;

    /* Load the whole file; split it into (topic, payload) in place. */
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(size + 1);
    if (fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
    fclose(f);
    data[size] = '\n';
    long cap = 1 << 20, count = 0;
    char **topics = malloc(cap * sizeof *topics);
    char **payloads = malloc(cap * sizeof *payloads);
    int *lengths = malloc(cap * sizeof *lengths);
    for (char *p = data; p < data + size && (limit < 0 || count < limit);) {
        char *nl = memchr(p, '\n', data + size + 1 - p);
        char *tab = memchr(p, '\t', nl - p);
        if (tab) {
            if (count == cap) {
                cap *= 2;
                topics = realloc(topics, cap * sizeof *topics);
                payloads = realloc(payloads, cap * sizeof *payloads);
                lengths = realloc(lengths, cap * sizeof *lengths);
            }
            *tab = 0;
            topics[count] = p;
            payloads[count] = tab + 1;
            lengths[count] = (int)(nl - tab - 1);
            count++;
        }
        p = nl + 1;
    }

    mosquitto_lib_init();
    char id[64];
    snprintf(id, sizeof id, "replay-pub-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    mosquitto_max_inflight_messages_set(m, (unsigned)window);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_connect_callback_set(m, on_connect);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "replay_pub: connect failed\n"); return 1; }
    mosquitto_loop_start(m);
    while (!atomic_load(&connected)) usleep(1000);
    double start_wall = wall();
    double start = mono();
    for (long i = 0; i < count; i++) {
        while (i - atomic_load(&done) >= window) usleep(20);
        int rc = mosquitto_publish(m, NULL, topics[i], lengths[i], payloads[i], qos, false);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "replay_pub: publish failed: %s\n", mosquitto_strerror(rc)); return 1; }
    }
    while (atomic_load(&done) < count) usleep(100);
    double elapsed = mono() - start;
    printf("%ld messages, QoS %d, window %ld, %.3f s, %.0f msg/s, start_wall %.6f\n",
           count, qos, window, elapsed, count / elapsed, start_wall);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
