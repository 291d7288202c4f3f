import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Running helper programs (mosquitto_passwd, openssl, mosquitto_sub, our own binaries) from tests.
public enum TestProcess {
    /// The path of a program, searched in PATH and the sbin directories Debian installs daemons in.
    public static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"]
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestSupportError("\(name) not found in PATH or sbin; run `make test`, which installs it")
    }

    /// Runs a program to completion; throws with its output when it exits non-zero.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], timeout: Double = 120) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("takt-run-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(executable, arguments, logFile: log.path)
        let code = child.wait(timeout: timeout)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard code == 0 else {
            if code == nil { child.signal(SIGKILL) }
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) exited \(code.map(String.init) ?? "(timed out)"): \(text)")
        }
        return text
    }

    /// Copies an executable with its write descriptor marked close-on-exec, so that no child
    /// spawned meanwhile by another test keeps it open for writing (which makes exec fail with
    /// "Text file busy").
    public static func copyExecutable(from source: String, to destination: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw TestSupportError("cannot create \(destination)") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw TestSupportError("short write to \(destination)") }
    }

    /// A fresh temporary directory, removed by the caller.
    public static func temporaryDirectory(_ prefix: String = "takt-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, made
/// with openssl for a TLS test.
public struct TestCertificates: Sendable {
    public let caFile: String
    public let certFile: String
    public let keyFile: String

    public static func make(in directory: URL) throws -> TestCertificates {
        let openssl = try TestProcess.executable("openssl")
        let d = directory.path
        try TestProcess.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                      "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem", "-subj", "/CN=Takt Test CA"])
        try TestProcess.run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/server.key",
                                      "-out", "\(d)/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(d)/san.ext", atomically: true, encoding: .utf8)
        try TestProcess.run(openssl, ["x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
                                      "-CAcreateserial", "-days", "2", "-out", "\(d)/server.pem", "-extfile", "\(d)/san.ext"])
        return TestCertificates(caFile: "\(d)/ca.pem", certFile: "\(d)/server.pem", keyFile: "\(d)/server.key")
    }
}
