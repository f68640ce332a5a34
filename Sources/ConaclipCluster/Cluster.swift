/// The distributed layer: wire protocol, coordinator, workers, membership,
/// checkpoint store, fault injection and security. Built by the distributed
/// trainer issue; for now it only re-exports the layers below.
@_exported import ConaclipData
