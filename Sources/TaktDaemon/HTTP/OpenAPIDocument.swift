import Foundation

/// `/openapi.json`: the OpenAPI 3.1 description of taktd's HTTP API (contract section 12),
/// kept true by `LiveAPITests.schemathesis`, which generates requests from it against a running
/// daemon and checks every answer's status, content type and schema.
enum OpenAPIDocument {
    /// The document, with the daemon's sites as the `site` parameter's values.
    static func json(sites: [String]) -> String {
        let list = sites.map { "\"\($0)\"" }.joined(separator: ", ")
        return template.replacingOccurrences(of: "\"SITES\"", with: list)
    }

    private static let template = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "taktd HTTP API",
    "version": "1",
    "description": "Production-line telemetry: health, Prometheus metrics, window rollups, live stream and alerts of the sites a taktd counts. Times are ISO 8601 (2026-11-01T00:00:00Z) or epoch milliseconds."
  },
  "paths": {
    "/": {
      "get": {
        "summary": "The live page of a site (HTML with its script and SVG inline; follows /api/v1/live).",
        "parameters": [
          {"name": "site", "in": "query", "required": false, "description": "Default: the first site.", "schema": {"type": "string", "enum": ["SITES"]}},
          {"name": "target_gwh", "in": "query", "required": false, "description": "The year's target for the pace line (default: the site's nameplate).", "schema": {"type": "string"}}
        ],
        "responses": {
          "200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"}
        }
      }
    },
    "/healthz": {
      "get": {
        "summary": "Liveness: the daemon runs.",
        "responses": {
          "200": {"description": "Running.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}}
        }
      }
    },
    "/readyz": {
      "get": {
        "summary": "Readiness: the store answers and both broker connections are up.",
        "responses": {
          "200": {"description": "Ready.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
          "503": {"description": "Not ready (the object says which part).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus text exposition.",
        "responses": {
          "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "summary": "This document.",
        "responses": {
          "200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/api/v1/windows": {
      "get": {
        "summary": "Window rollups: the rows of takt query --format json, windows that start in [from, to).",
        "description": "Without line: every line's output-station rows and the _site rows; with line: that line's output station; with station too: that station. From the ring buffers when they hold the whole range (X-Takt-Source: live), else from the store. A range of more than max_rows rows (default 10,000) is a 400.",
        "parameters": [
          {"name": "site", "in": "query", "required": true, "description": "A site of the daemon's plant files.", "schema": {"type": "string", "enum": ["SITES"]}},
          {"name": "line", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "station", "in": "query", "required": false, "description": "Needs line.", "schema": {"type": "string"}},
          {"name": "window", "in": "query", "required": true, "schema": {"type": "string", "enum": ["1m", "1h", "1d"]}},
          {"name": "from", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/Time"}},
          {"name": "to", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/Time"}}
        ],
        "responses": {
          "200": {
            "description": "The rows, ordered by start, then line (_site last), then station.",
            "headers": {"X-Takt-Source": {"schema": {"type": "string", "enum": ["live", "store"]}}},
            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Window"}}}}
          },
          "400": {"$ref": "#/components/responses/BadRequest"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/plan": {
      "get": {
        "summary": "Capacity planning: the JSON of takt plan --format json (contract section 6), from the store.",
        "parameters": [
          {"name": "site", "in": "query", "required": true, "schema": {"type": "string", "enum": ["SITES"]}},
          {"name": "target_gwh", "in": "query", "required": true, "description": "Energy target for the year, GWh (0 < x ≤ 1e9).", "schema": {"type": "string", "pattern": "^[0-9]{1,6}(\\.[0-9]{1,6})?$"}},
          {"name": "year", "in": "query", "required": false, "description": "Year of the year-to-date figures (default: the year of the newest data).", "schema": {"type": "string", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})$"}},
          {"name": "lookback", "in": "query", "required": false, "description": "How far back OEE and the projection look (default 7d; at most 366d).", "schema": {"type": "string", "pattern": "^([1-9][0-9]{0,2}d|[1-9][0-9]{0,3}h)$"}}
        ],
        "responses": {
          "200": {"description": "The plan.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Plan"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/api/v1/live": {
      "get": {
        "summary": "Server-Sent Events of one site: event 'window' (a window object, each time a line's or the site's row is written) and event 'alert' (an alert object, each time an alert changes); a keep-alive comment every 15 s.",
        "parameters": [
          {"name": "site", "in": "query", "required": true, "description": "A site of the daemon's plant files.", "schema": {"type": "string", "enum": ["SITES"]}}
        ],
        "responses": {
          "200": {"description": "The event stream (ends when the daemon stops).", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"}
        }
      }
    },
    "/api/v1/alerts": {
      "get": {
        "summary": "The site's active alerts (also retained on takt/v1/alerts/{site}/{line}).",
        "parameters": [
          {"name": "site", "in": "query", "required": true, "description": "A site of the daemon's plant files.", "schema": {"type": "string", "enum": ["SITES"]}}
        ],
        "responses": {
          "200": {"description": "Active alerts.", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}}},
          "400": {"$ref": "#/components/responses/BadRequest"}
        }
      }
    }
  },
  "components": {
    "responses": {
      "BadRequest": {"description": "A bad or missing parameter; the message names it.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "The store cannot answer now.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Time": {"type": "string", "description": "ISO 8601 (2026-11-01T00:00:00Z) or epoch milliseconds (digits, < 2^53).",
               "pattern": "^([0-9]{1,15}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)$", "examples": ["2026-11-01T00:00:00Z", "1764547200000"]},
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
      "Status": {
        "type": "object", "required": ["online", "instance", "version", "started"],
        "properties": {"online": {"type": "boolean"}, "instance": {"type": "string"}, "version": {"type": "string"}, "started": {"type": "string"}}
      },
      "Readiness": {
        "type": "object", "required": ["ready", "store", "broker"],
        "properties": {"ready": {"type": "boolean"}, "store": {"type": "boolean"}, "broker": {"type": "boolean"}}
      },
      "Plan": {
        "type": "object", "required": ["site", "year", "target_gwh", "lookback", "lines", "site_total"],
        "properties": {
          "site": {"type": "string"}, "year": {"type": "integer"}, "target_gwh": {"type": "number"}, "lookback": {"type": "string"},
          "lines": {"type": "array", "items": {"type": "object", "required": ["line", "nameplate_gwh_per_year", "ytd_gwh"],
                    "properties": {"line": {"type": "string"}, "nameplate_gwh_per_year": {"type": "number"}, "ytd_gwh": {"type": "number"}}}},
          "site_total": {"type": "object", "required": ["nameplate_gwh_per_year", "ytd_gwh"]}
        }
      },
      "Alert": {
        "type": "object", "required": ["site", "line", "kind", "active", "since", "detail"],
        "properties": {
          "site": {"type": "string"}, "line": {"type": "string"},
          "kind": {"type": "string", "enum": ["stopped", "oee_low", "silent"]},
          "active": {"type": "boolean"},
          "since": {"type": "integer", "description": "Site time, epoch ms."},
          "detail": {"type": "string"}
        }
      },
      "Window": {
        "type": "object",
        "required": ["site", "line", "station", "window", "start", "end", "revision", "good", "scrap", "energy_kwh", "good_per_hour",
                     "run_s", "planned_s", "downtime_s", "availability", "performance", "quality", "oee", "cycle_ms"],
        "properties": {
          "site": {"type": "string"},
          "line": {"type": "string", "description": "_site for site totals."},
          "station": {"type": ["string", "null"]},
          "window": {"type": "string", "enum": ["1m", "1h", "1d"]},
          "start": {"type": "integer"}, "end": {"type": "integer"}, "revision": {"type": "integer"},
          "good": {"type": "integer"}, "scrap": {"type": "integer"},
          "energy_kwh": {"type": "number"}, "good_per_hour": {"type": "number"},
          "run_s": {"type": "number"}, "planned_s": {"type": "number"}, "downtime_s": {"type": "number"},
          "availability": {"type": ["number", "null"]}, "performance": {"type": ["number", "null"]},
          "quality": {"type": ["number", "null"]}, "oee": {"type": ["number", "null"]},
          "cycle_ms": {
            "type": "object", "required": ["p50", "p90", "p99"],
            "properties": {"p50": {"type": ["integer", "null"]}, "p90": {"type": ["integer", "null"]}, "p99": {"type": ["integer", "null"]}}
          }
        }
      }
    }
  }
}
"""#
}
