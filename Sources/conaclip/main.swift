import ConaclipNative

// OpenBLAS picks its kernels while it loads, before main; choose them from the
// CPU's flags and re-execute if needed, before doing anything else.
BLASCoreSelection.ensureSelected()
ConaclipCommand.main()
