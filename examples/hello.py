# The README's quick start: go run ./cmd/tta run examples/hello.py
import statistics
import sys

print("Hello from default template!")
primes = [2, 3, 5, 7, 11, 13]
print(f"Python {sys.version_info.major}.{sys.version_info.minor}; mean of {primes}: {statistics.mean(primes):.2f}")
sum(p * p for p in primes)
