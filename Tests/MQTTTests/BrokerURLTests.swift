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

@Suite("Broker lists (the nodes of a clustered broker)")
struct BrokerListTests {
    @Test("one URL is that URL, with the errors of a single URL")
    func single() throws {
        #expect(try MQTTBrokerURL.list("mqtt://127.0.0.1:1883") == [MQTTBrokerURL(host: "127.0.0.1", port: 1883)])
        #expect {
            _ = try MQTTBrokerURL.list("mqtt://host:0")
        } throws: { error in
            (error as? MosquittoError)?.message == "broker URL 'mqtt://host:0' has port '0'; expected 1 to 65535"
        }
    }

    @Test("a comma-separated list keeps its order; spaces around entries are ignored")
    func several() throws {
        let brokers = try MQTTBrokerURL.list("mqtt://n1:1883, mqtt://n2:1884 ,tcp://[::1]:1885")
        #expect(brokers == [MQTTBrokerURL(host: "n1", port: 1883), MQTTBrokerURL(host: "n2", port: 1884),
                            MQTTBrokerURL(host: "::1", port: 1885)])
        #expect(try MQTTBrokerURL.list("mqtts://a,mqtts://b:9000").map(\.description) == ["mqtts://a:8883", "mqtts://b:9000"])
    }

    @Test("bad lists name what is wrong", arguments: [
        ("mqtt://a:1,,mqtt://b:2", "empty entry"),
        ("mqtt://a:1,", "empty entry"),
        ("mqtt://a:1,mqtt://a:1", "names mqtt://a:1 twice"),
        ("mqtt://a:1,tcp://a:1/", "names mqtt://a:1 twice"),
        ("mqtt://a:1,mqtts://b:2", "mixes mqtt:// and mqtts://"),
        ("mqtt://a:1,b:2", "broker URL 'b:2' has no scheme"),
        ("mqtt://a:1,mqtt://b:x", "broker URL 'mqtt://b:x' has port 'x'"),
    ])
    func rejects(text: String, fragment: String) {
        #expect {
            _ = try MQTTBrokerURL.list(text)
        } throws: { error in
            guard let error = error as? MosquittoError else { return false }
            return error.kind == .invalidConfiguration && error.message.contains(fragment)
        }
    }

    @Test("a password in a list is refused without showing it, even one holding a comma", arguments: [
        "mqtt://a:1,mqtt://line:s3cret-pw@b:2",
        "mqtt://line:s3c,ret-pw@b:2,mqtt://a:1",
    ])
    func credentialsRedacted(text: String) {
        #expect {
            _ = try MQTTBrokerURL.list(text)
        } throws: { error in
            guard let error = error as? MosquittoError else { return false }
            return error.kind == .invalidConfiguration && !error.description.contains("s3c")
                && !error.description.contains("ret-pw") && error.description.contains("***@")
        }
    }

    @Test("a configuration refuses alternates reached another way, or a node named twice")
    func configurationChecksAlternates() async throws {
        let plain = MQTTBrokerURL(host: "a", port: 1)
        let mixed = MQTTClient(configuration: .init(broker: plain, alternateBrokers: [MQTTBrokerURL(host: "b", port: 2, usesTLS: true)]))
        defer { mixed.close() }
        await #expect(throws: MosquittoError.self) { try await mixed.connect() }
        let twice = MQTTClient(configuration: .init(broker: plain, alternateBrokers: [plain]))
        defer { twice.close() }
        await #expect(throws: MosquittoError.self) { try await twice.connect() }
    }
}
