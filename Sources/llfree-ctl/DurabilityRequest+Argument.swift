// Lets the durability request (auto, cpu-cache, msync) be a command-line option.

import ArgumentParser
import LLFreePool

extension DurabilityRequest: ExpressibleByArgument {}
