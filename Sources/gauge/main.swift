import CAllocationCounter
import GaugeTools

BenchCommand.heapAllocations = { gauge_heap_allocations() }
BenchCommand.blasHeapAllocations = { gauge_blas_heap_allocations() }
GaugeTools.main()
