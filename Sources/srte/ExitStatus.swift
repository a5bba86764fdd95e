import Glibc
import ArgumentParser
import PathAgent
import SRv6Paths
import LinuxSystem
import SubflowSteering
import NetworkLab

/// An error of the command line itself (not of a library): a message and the exit status.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { message }

    /// A negative result (exit 1): no path, a connection that failed verification.
    static func negative(_ m: String) -> CLIFailure { CLIFailure(message: m, code: ExitStatus.negative) }
    /// Input the command cannot use (exit 2).
    static func input(_ m: String) -> CLIFailure { CLIFailure(message: m, code: ExitStatus.unusableInput) }
    /// A system or kernel error (exit 3).
    static func system(_ m: String) -> CLIFailure { CLIFailure(message: m, code: ExitStatus.system) }
    /// Any error, reported as a system or kernel error (exit 3) whatever its kind: for steps whose
    /// every failure is one of the run, not of the input (opening a connection, an experiment).
    static func system(_ error: Error) -> CLIFailure { .system(ExitStatus.of(error).message) }
}

/// An error together with what srte was doing: printed as "context: error". The exit status is
/// the error's own, unless `code` overrides it.
struct InContext: Error, CustomStringConvertible {
    var context: String
    var error: Error
    var code: Int32? = nil

    init(_ context: String, _ error: Error, code: Int32? = nil) {
        self.context = context
        self.error = error
        self.code = code
    }

    var description: String { ExitStatus.of(self).message }
}

/// The exit status contract of every srte command, and the one mapping from errors to it.
///
/// 0 success, 1 a negative result (an invalid SRH, no path), 2 unusable input (file:line:column
/// for topology files, a byte offset for SRHs), 3 a system or kernel error (errno and, for
/// netlink, the kernel's extended-ack message). `srte testbed` adds 4 (the lab does not exist or
/// already exists) and 130 (`up` interrupted and cleaned up).
enum ExitStatus {
    static let success: Int32 = 0
    static let negative: Int32 = 1
    static let unusableInput: Int32 = 2
    static let system: Int32 = 3
    static let labState: Int32 = 4
    static let interrupted: Int32 = 130

    /// SRH kinds that describe a header that exists but is not one Linux accepts (exit 1); the
    /// other kinds (building, hex) are unusable input (exit 2).
    static let invalidHeaderKinds: Set<SRHError.Kind> = [
        .truncated, .lengthNotMultipleOf8, .tooLong, .headerLengthBeyondData, .unsupportedRoutingType,
        .lengthMismatch, .segmentsLeftBeyondLastEntry, .lastEntryBeyondHeader, .tlvTruncated, .tlvOverrun,
        .hmacMismatch, .hmacMissing, .segmentsLeftBeyondReducedList,
    ]

    /// The exit status and the message ("srte: " is prefixed when printed; empty: print nothing).
    static func of(_ error: Error) -> (code: Int32, message: String) {
        switch error {
        case let e as CLIFailure:
            return (e.code, e.message)
        case let e as InContext:
            let inner = of(e.error)
            return (e.code ?? inner.code, "\(e.context): \(inner.message)")
        case let e as ExitCode:
            return (e.rawValue, "")
        case let e as ValidationError:
            return (unusableInput, e.message)

        // SRv6Paths: input and negative results.
        case let e as SRHError:
            if invalidHeaderKinds.contains(e.kind) { return (negative, "not a valid SRH: \(e)") }
            return (unusableInput, e.description)
        case let e as CSIDError:
            return (unusableInput, e.description)
        case let e as TopologyError:
            return (unusableInput, e.description)
        case let e as PolicyError:
            return (unusableInput, e.description)
        case let e as Topology.UnitError:
            return (unusableInput, e.description)
        case let e as IPv6AddressError:
            return (unusableInput, e.description)
        case let e as PlanReport.Failure:
            return (e.isBadRequest ? unusableInput : negative, e.message)
        case let e as DisjointPathPlanner.PlanError:
            return (unusableInput, e.message)
        case let e as EncodingError:
            return (negative, e.message)

        // NetworkLab.
        case let e as TestbedError:
            switch e.kind {
            case .invalidInput: return (unusableInput, e.message)
            case .state: return (labState, e.message)
            case .system: return (system, e.message)
            case .interrupted: return (interrupted, e.message)
            }

        // SubflowSteering.
        case let e as SubflowError:
            switch e.kind {
            case .badArgument, .invalidID, .privilegedPort, .steeringNotAvailable: return (unusableInput, e.description)
            default: return (system, e.description)
            }
        case let e as SteeringError:
            return (system, e.description)

        // LinuxSystem: errno, and the kernel's extended-ack message for netlink.
        case let e as NetlinkError:
            if e.errno == EPERM { return (system, "\(e): this needs CAP_NET_ADMIN (run as root)") }
            return (system, e.description)
        case let e as NetlinkDecodingError:
            return (system, e.description)
        case let e as SystemCallError:
            return (system, e.description)
        case let e as SubprocessError:
            return (system, e.description)

        default:
            if let v = userValidationError(in: error) { return (unusableInput, v.message) }
            if isArgumentParserOwn(error) { return (Srte.exitCode(for: error).rawValue, Srte.message(for: error)) }
            return (system, String(describing: error))
        }
    }

    /// An error argument-parser raises and reports itself (help requests, clean exits, parse
    /// errors), as opposed to ``ValidationError`` and ``ExitCode``, which commands throw.
    static func isArgumentParserOwn(_ error: Error) -> Bool {
        if error is ValidationError || error is ExitCode { return false }
        return String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    /// The ``ValidationError`` a command's `validate()` threw, as argument-parser hands it on
    /// from `parseAsRoot` (wrapped in its internal command error), or nil.
    static func userValidationError(in error: Error) -> ValidationError? {
        if let v = error as? ValidationError { return v }
        for child in Mirror(reflecting: error).children where child.label == "parserError" {
            for c in Mirror(reflecting: child.value).children where c.label == "userValidationError" {
                return c.value as? ValidationError
            }
        }
        return nil
    }
}
