import TPMEngine
import TPMWire

/// The engine targets: every input starts from the same saved instance (imported, so the
/// inputs are independent and reproducible), runs as a sequence of commands split by their
/// size fields, and must leave well-formed responses and a state that round-trips.
public final class EngineFuzzer {
    let world = FuzzWorld()
    let saved: SavedTPM

    public init(setup: (FuzzWorld) -> TPM) {
        world.reset()
        saved = SavedTPM(setup(world))
    }

    public func run(_ input: [UInt8]) {
        world.reset()
        let tpm = saved.load(world)
        for cmd in Wire.split(input) {
            // Locality 0 as tpm2-tools uses; time moves a little between commands.
            let r = tpm.execute(command: cmd)
            Wire.checkResponse(r, command: cmd)
            world.now += 3
        }
        StateCheck.roundTrip(tpm, world: world, input: input)
    }
}
