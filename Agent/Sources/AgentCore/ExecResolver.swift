import Foundation
import Logging

/// Turns an exec event into the files to measure, opened at once (the process may exit or exec
/// again any moment):
/// - the executable the process runs, through /proc/PID/exe while it lives and still runs what
///   the exec loaded (its inode is one of the event's PATH inodes); else the path;
/// - for an interpreted file (a script: PATH item 0 is not the executable), the script by path.
public struct ExecResolver: Sendable {
    public var proc: String

    public init(proc: String = "/proc") { self.proc = proc }

    public func open(_ event: ExecEvent, logger: Logger) -> [OpenedFile] {
        var files: [OpenedFile] = []
        let inodes = Set(event.paths.compactMap(\.inode))
        let exeName = event.exe ?? readlink("\(proc)/\(event.pid)/exe")
        var exeInode: UInt64?
        if let name = exeName {
            if let f = OpenedFile(openPath: "\(proc)/\(event.pid)/exe", entryPath: name, via: "/proc/\(event.pid)/exe"),
                inodes.isEmpty || inodes.contains(f.version.inode)
            {
                files.append(f)
                exeInode = f.version.inode
            } else if let f = OpenedFile(openPath: String(decoding: name, as: UTF8.self), entryPath: name, via: "path") {
                logger.debug("process \(event.pid) gone or moved on; measuring \(String(decoding: name, as: UTF8.self)) by path")
                files.append(f)
                exeInode = f.version.inode
            } else {
                logger.warning("cannot open the executable of exec \(event.serial) (pid \(event.pid))")
            }
        }
        if let script = event.executedPath, let item0 = event.paths.first(where: { $0.item == 0 }), item0.inode != exeInode {
            let scriptPath = String(decoding: script, as: UTF8.self)
            // The name the kernel gives the opened file (as IMA's d_path): absolute, no "." or "..".
            if let f = OpenedFile(openPath: scriptPath, entryPath: script, via: "path", canonicalName: true) {
                if let ino = item0.inode, ino != f.version.inode {
                    logger.warning("\(String(decoding: script, as: UTF8.self)) was replaced after its exec; measuring what is there now")
                }
                files.append(f)
            }
        }
        return files
    }

    func readlink(_ path: String) -> [UInt8]? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { Array($0.utf8) }
    }
}
