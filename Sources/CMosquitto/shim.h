#ifndef TAKT_CMOSQUITTO_SHIM_H
#define TAKT_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <fcntl.h>

/* glibc declares pipe2 only under _GNU_SOURCE, which Swift's Glibc module does not set; the
   MQTT module needs it for its poll wake-up pipe (close-on-exec and non-blocking atomically). */
extern int pipe2(int pipefd[2], int flags);
#endif
