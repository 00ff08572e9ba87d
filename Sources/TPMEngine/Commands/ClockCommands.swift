import TPMWire

extension TPM {
    /// TPM2_ReadClock (Part 3, 29.1).
    func readClockCommand(_ c: inout CommandContext) throws {
        try c.finish()
        timeInfo.encode(to: &c.response)
    }

    /// TPM2_ClockSet (Part 3, 29.2): Clock only moves forward, and never beyond
    /// 0xFFFF000000000000 (that value itself is accepted, as libtpms does).
    func clockSetCommand(_ c: inout CommandContext) throws {
        let newTime = try c.param { try $0.u64() }
        try c.finish()
        guard newTime <= 0xFFFF_0000_0000_0000 else { throw TPMError.value.parameter(1) }
        guard newTime >= currentClock() else { throw TPMError.value.parameter(1) }
        setClock(newTime)
    }

    /// TPM2_ClockRateAdjust (Part 3, 29.3): TPM_CLOCK_ADJUST is an INT8 from -3 to 3.
    func clockRateAdjustCommand(_ c: inout CommandContext) throws {
        let adjust = try c.param { r -> Int8 in
            let v = try r.i8()
            guard (-3...3).contains(v) else { throw TPMError.value }
            return v
        }
        try c.finish()
        // Coarse, medium and fine steps of 300, 30 and 1 per 30000 (1%, 0.1%, ~0.003%).
        let step: Int
        switch abs(Int(adjust)) {
        case 3: step = 300
        case 2: step = 30
        case 1: step = 1
        default: step = 0
        }
        reanchorClock()
        let delta = adjust < 0 ? -step : step
        volatile.clockAdjust = max(-TPM.clockAdjustLimit, min(TPM.clockAdjustLimit, volatile.clockAdjust + delta))
    }
}
