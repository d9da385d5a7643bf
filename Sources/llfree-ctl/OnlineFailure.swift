// How an online verb fails: a message on stderr and an exit code (1: the daemon refused part of
// the request; 2: the daemon could not be reached or refused the request as a whole).

import ArgumentParser

/// An error an online verb reports and exits with.
struct OnlineFailure: Error, CustomStringConvertible {
    let description: String
    let code: Int32

    init(_ description: String, code: Int32) {
        self.description = description
        self.code = code
    }

    /// Prints the message and gives the exit code to throw.
    func exit() -> ExitCode {
        FileHandleOutput.standardError("llfree-ctl: \(description)")
        return ExitCode(code)
    }
}
