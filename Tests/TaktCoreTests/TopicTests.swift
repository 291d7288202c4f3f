import Testing
@testable import TaktCore

@Suite("Topics")
struct TopicTests {
    @Test("valid unit and state topics parse")
    func valid() throws {
        let u = try InboundTopic.parse("takt/v1/bishan/blade-01/eol/unit")
        #expect(u == InboundTopic(site: "bishan", line: "blade-01", station: "eol", kind: .unit))
        let s = try InboundTopic.parse("takt/v1/S_1/L-2/st3/state")
        #expect(s.kind == .state && s.site == "S_1" && s.line == "L-2" && s.station == "st3")
        #expect(s.topic == "takt/v1/S_1/L-2/st3/state")
        let long = String(repeating: "a", count: 64)
        #expect(try InboundTopic.parse("takt/v1/\(long)/\(long)/\(long)/unit").site == long)
        // Raw bytes entry point.
        let bytes = Array("takt/v1/a/b/c/unit".utf8)
        let t = try bytes.withUnsafeBytes { raw in try InboundTopic.parse(raw) }
        #expect(t.station == "c")
    }

    @Test("bad topics are bad_topic dead letters", arguments: [
        "", "takt/v1", "takt/v1/", "takt/v2/a/b/c/unit", "takt/v1/a/b/c", "takt/v1/a/b/c/unit/x",
        "takt/v1/a/b/c/units", "takt/v1//b/c/unit", "takt/v1/a//c/unit", "takt/v1/a/b//unit",
        "takt/v1/a/b/c/", "takt/v1/a b/b/c/unit", "takt/v1/a/b.1/c/unit", "takt/v1/a/b/c+/state",
        "takt/v1/metrics/b/c/unit", "takt/v1/deadletter/b/c/unit", "takt/v1/status/b/c/state",
        "takt/v1/é/b/c/unit", "TAKT/v1/a/b/c/unit", "takt/v1/a/b/c/Unit",
        "takt/v1/\(String(repeating: "a", count: 65))/b/c/unit",
    ])
    func invalid(_ topic: String) {
        #expect(throws: TopicError.self) { try InboundTopic.parse(topic) }
        do {
            _ = try InboundTopic.parse(topic)
        } catch {
            #expect(error.reason == .badTopic)
            #expect(!error.detail.isEmpty)
        }
    }

    @Test("reserved names are only reserved as site")
    func reservedOnlyAsSite() throws {
        #expect(try InboundTopic.parse("takt/v1/a/metrics/status/unit").line == "metrics")
        #expect(!TopicSegment.isValidSite("metrics"))
        #expect(TopicSegment.isValidSite("bishan"))
        #expect(!TopicSegment.isValid(""))
        #expect(!TopicSegment.isValid("a/b"))
    }

    @Test("outbound topics")
    func outbound() {
        #expect(OutboundTopic.metrics(site: "bishan", line: "blade-01", tier: .hour) == "takt/v1/metrics/bishan/blade-01/1h")
        #expect(OutboundTopic.siteMetrics(site: "bishan", tier: .day) == "takt/v1/metrics/bishan/_site/1d")
        #expect(OutboundTopic.deadLetter == "takt/v1/deadletter")
        #expect(OutboundTopic.status(instance: "taktd-1") == "takt/v1/status/taktd-1")
    }
}
