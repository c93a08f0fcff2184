import CAllocationCounter
import GaugeCLI

BenchCommand.heapAllocations = { gauge_heap_allocations() }
BenchCommand.blasHeapAllocations = { gauge_blas_heap_allocations() }
GaugeCommand.main()
