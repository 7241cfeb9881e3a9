#pragma once
/// Chunk compressors for layers. Each fixed-size chunk of the tar stream becomes one complete
/// gzip member (libdeflate) or zstd frame, so chunks compress in parallel and the output is
/// the same bytes whatever the thread count. A multi-member gzip stream and a multi-frame
/// zstd stream are standard: every reader decompresses them as one stream.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flavourgraph::oci {

enum class Compression { gzip, zstd };

/// A layer's compressor and level. It decides the blob's bytes (not the diffID), so it is part
/// of the layer's cache key.
struct CompressionSpec {
  Compression format = Compression::gzip;
  int level = 5;  ///< gzip 1..12 (libdeflate), zstd 1..19

  [[nodiscard]] std::string media_type() const;  ///< OCI layer media type
  [[nodiscard]] std::string str() const;         ///< e.g. "gzip-5"
};

class ChunkCompressor {
 public:
  virtual ~ChunkCompressor() = default;
  [[nodiscard]] virtual size_t bound(size_t n) const = 0;
  /// Compresses `in` into `out` (at least bound(n) bytes); returns the compressed size.
  virtual size_t compress(const char* in, size_t n, char* out, size_t cap) = 0;
};

std::unique_ptr<ChunkCompressor> make_compressor(const CompressionSpec& spec);

/// Compressors are not thread-safe and costly to create: a pool hands one to each caller.
class CompressorPool {
 public:
  explicit CompressorPool(CompressionSpec spec) : spec_(spec) {}
  std::unique_ptr<ChunkCompressor> acquire();
  void release(std::unique_ptr<ChunkCompressor> c);

 private:
  CompressionSpec spec_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<ChunkCompressor>> free_;
};

/// The chunk size of the tar stream. Part of the layer's cache key (it changes the blob).
inline constexpr size_t kChunkSize = 1u << 20;

}  // namespace flavourgraph::oci
