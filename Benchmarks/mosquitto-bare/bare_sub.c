/* A bare libmosquitto subscriber that only counts: the yardstick (a) of issue 6's end-to-end
 * benchmark. Threaded network loop (mosquitto_loop_start), subscribes to FILTER at QOS, prints
 * "ready" once the SUBACK is in, and exits after COUNT messages, printing messages/s from the
 * first message to the last and the wall-clock time (CLOCK_REALTIME, seconds) of the last one,
 * so a script can measure from the publisher's start too.
 *
 *   cc -O2 -o bare_sub bare_sub.c $(pkg-config --cflags --libs libmosquitto)
 *   bare_sub PORT COUNT QOS [FILTER [CLIENT_ID]]   (FILTER defaults to takt/v1/#)
 *
 * With CLIENT_ID the session is persistent (clean session off): run it once with COUNT 0 to
 * create the session, publish while it is away, run it again to drain the backlog.
 */
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long received;
static atomic_int subscribed;
static long target;
static int qos;
static const char *filter = "takt/v1/#";
static double first_at, last_at, last_wall;

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

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)obj;
    if (rc != 0) { fprintf(stderr, "bare_sub: connect refused (%d)\n", rc); exit(1); }
    mosquitto_subscribe(m, NULL, filter, qos);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted) {
    (void)m; (void)obj; (void)mid; (void)n; (void)granted;
    atomic_store(&subscribed, 1);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m; (void)obj; (void)msg;
    long n = atomic_fetch_add(&received, 1) + 1;
    if (n == 1) first_at = mono();
    if (n == target) { last_at = mono(); last_wall = wall(); }
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) { fprintf(stderr, "usage: bare_sub PORT COUNT QOS [FILTER [CLIENT_ID]]\n"); return 2; }
    int port = atoi(argv[1]);
    target = atol(argv[2]);
    qos = atoi(argv[3]);
    if (argc >= 5) filter = argv[4];
    const char *fixed_id = argc == 6 ? argv[5] : NULL;
    mosquitto_lib_init();
    char id[64];
    snprintf(id, sizeof id, "bare-sub-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(fixed_id ? fixed_id : id, fixed_id == NULL, NULL);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "bare_sub: connect failed\n"); return 1; }
    mosquitto_loop_start(m);
    while (!atomic_load(&subscribed)) usleep(1000);
    printf("ready\n");
    fflush(stdout);
    while (atomic_load(&received) < target) usleep(1000);
    double elapsed = last_at - first_at;
    printf("%ld messages, QoS %d, %.3f s first to last, %.0f msg/s, last_wall %.6f\n",
           target, qos, elapsed, elapsed > 0 ? (target - 1) / elapsed : 0.0, last_wall);
    fflush(stdout);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
