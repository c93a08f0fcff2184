import CAllocationCounter
import GaugeCLI

BenchCommand.heapAllocations = { gauge_heap_allocations() }
GaugeCommand.main()
