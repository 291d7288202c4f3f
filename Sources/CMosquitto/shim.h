#ifndef TAKT_CMOSQUITTO_SHIM_H
#define TAKT_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
