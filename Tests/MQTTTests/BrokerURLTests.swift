import MQTT
import Testing

@Suite("Broker URLs")
struct BrokerURLTests {
    @Test("mqtt and mqtts URLs with and without ports", arguments: [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, false),
        ("mqtt://broker.plant", "broker.plant", 1883, false),
        ("mqtts://broker.plant", "broker.plant", 8883, true),
        ("mqtts://broker.plant:9000/", "broker.plant", 9000, true),
        ("tcp://localhost:1884", "localhost", 1884, false),
        ("mqtt://[::1]:1885", "::1", 1885, false),
    ])
    func parses(text: String, host: String, port: Int, tls: Bool) throws {
        let url = try MQTTBrokerURL(text)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.usesTLS == tls)
    }

    @Test("bad URLs name what is wrong", arguments: [
        ("127.0.0.1:1883", "no scheme"),
        ("http://host:80", "scheme 'http'"),
        ("mqtt://:1883", "no host"),
        ("mqtt://host:0", "port '0'"),
        ("mqtt://host:99999", "port '99999'"),
        ("mqtt://host:12/path", "has a path"),
    ])
    func rejects(text: String, fragment: String) {
        #expect {
            _ = try MQTTBrokerURL(text)
        } throws: { error in
            guard let error = error as? MosquittoError else { return false }
            return error.kind == .invalidConfiguration && error.message.contains(fragment)
        }
    }

    @Test("a URL with a user and password is refused, and no message repeats the password", arguments: [
        "mqtt://line:s3cret-pw@broker.plant:1883",
        "mqtt://line:s3cret-pw@broker.plant",
        "mqtts://line:s3cret-pw@[::1]:8883",
        "mqtt://line:s3cret-pw@broker.plant/path",
        "http://line:s3cret-pw@broker.plant",
        "line:s3cret-pw@broker.plant:1883",
    ])
    func credentialsRedacted(text: String) {
        #expect {
            _ = try MQTTBrokerURL(text)
        } throws: { error in
            guard let error = error as? MosquittoError else { return false }
            return error.kind == .invalidConfiguration && !error.description.contains("s3cret-pw")
                && error.description.contains("line:***@")
        }
    }

    @Test func redactingHidesOnlyThePassword() {
        #expect(MQTTBrokerURL.redacting("mqtt://u:p@h:1") == "mqtt://u:***@h:1")
        #expect(MQTTBrokerURL.redacting("mqtt://u:p:q@r@h") == "mqtt://u:***@h")
        #expect(MQTTBrokerURL.redacting("mqtt://u@h") == "mqtt://u@h")
        #expect(MQTTBrokerURL.redacting("mqtt://h:1883") == "mqtt://h:1883")
        #expect(MQTTBrokerURL.redacting("mqtt://[::1]:1883") == "mqtt://[::1]:1883")
    }

    @Test func roundTripsThroughDescription() throws {
        #expect(try MQTTBrokerURL("mqtts://[::1]:8884").description == "mqtts://[::1]:8884")
        #expect(try MQTTBrokerURL("mqtt://h").description == "mqtt://h:1883")
    }
}
