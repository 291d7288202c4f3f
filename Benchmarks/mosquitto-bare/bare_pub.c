/* A bare libmosquitto publisher: the yardstick for takt-sim's broker throughput
 * (issue 3, acceptance 5). Publishes N messages shaped like takt-sim's unit messages at the
 * given QoS with 1000 in flight, and prints messages/s until the last is acknowledged
 * (QoS 1) or written (QoS 0).
 *
 *   cc -O2 -o /tmp/bare_pub bare_pub.c -lmosquitto
 *   /tmp/bare_pub PORT COUNT QOS
 */
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long done;

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m; (void)obj; (void)mid;
    atomic_fetch_add(&done, 1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: bare_pub PORT COUNT QOS\n"); return 2; }
    int port = atoi(argv[1]);
    long count = atol(argv[2]);
    int qos = atoi(argv[3]);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new("bare-pub", true, NULL);
    mosquitto_max_inflight_messages_set(m, 1000);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "connect failed\n"); return 1; }
    mosquitto_loop_start(m);
    char payload[256];
    double start = now();
    for (long i = 0; i < count; i++) {
        int n = snprintf(payload, sizeof payload,
            "{\"ts\":%ld,\"seq\":%ld,\"boot\":0,\"good\":1,\"scrap\":0,\"energy_kwh\":0.441634,\"cycle_ms\":6013,\"serial\":\"blade-01-%08ld\"}",
            1793491200000L + i * 375, i, i);
        /* Bounded like takt-sim: never more than 1000 unacknowledged in libmosquitto's queue. */
        while (i - atomic_load(&done) >= 1000) usleep(50);
        mosquitto_publish(m, NULL, "takt/v1/bench/blade-01/eol/unit", n, payload, qos, false);
    }
    while (atomic_load(&done) < count) usleep(100);
    double elapsed = now() - start;
    printf("%ld messages, QoS %d, %.2f s, %.0f msg/s\n", count, qos, elapsed, count / elapsed);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
