#include "codec/codec.h"

#include <zstd.h>

#include <memory>
#include <vector>

namespace lazypath {

std::string_view CodecName(Codec c) {
  return c == Codec::kZstd ? "zstd" : "none";
}

Result<Codec> ParseCodec(std::string_view name) {
  if (name == "zstd") return Codec::kZstd;
  if (name == "none") return Codec::kNone;
  return Status::Corrupt("unknown codec '" + std::string(name.substr(0, 32)) +
                         "'");
}

namespace {

// Each thread's compression context and output scratch, reused across
// calls: a context costs about a megabyte to set up at level 3, and a
// zero-filled bound-sized output string costs a memset per call.
struct EncodeContext {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::unique_ptr<char[]> scratch;
  size_t scratch_size = 0;
  EncodeContext() = default;
  ~EncodeContext() { ZSTD_freeCCtx(cctx); }
  EncodeContext(const EncodeContext&) = delete;
  EncodeContext& operator=(const EncodeContext&) = delete;
};

}  // namespace

Result<std::string> ZstdCompress(std::string_view data, int level) {
  thread_local EncodeContext ctx;
  if (ctx.cctx == nullptr) return Status::IoError("zstd: out of memory");
  size_t bound = ZSTD_compressBound(data.size());
  if (ctx.scratch_size < bound) {
    ctx.scratch.reset(new char[bound]);
    ctx.scratch_size = bound;
  }
  size_t n = ZSTD_compressCCtx(ctx.cctx, ctx.scratch.get(), bound, data.data(),
                               data.size(), level);
  if (ZSTD_isError(n)) {
    return Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  std::string out(ctx.scratch.get(), n);
  // Keep the scratch of a thread that compressed one large input bounded.
  if (ctx.scratch_size > (16u << 20)) {
    ctx.scratch.reset();
    ctx.scratch_size = 0;
  }
  return out;
}

struct FrameEncoder::Impl {
  ZSTD_CCtx* cctx = nullptr;
  std::vector<char> buf = std::vector<char>(ZSTD_CStreamOutSize());
};

FrameEncoder::FrameEncoder(int level) : impl_(std::make_unique<Impl>()) {
  impl_->cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_checksumFlag, 0);
}

FrameEncoder::~FrameEncoder() { ZSTD_freeCCtx(impl_->cctx); }

Status FrameEncoder::Write(std::string_view data, const ByteSink& sink) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer out{impl_->buf.data(), impl_->buf.size(), 0};
    size_t r = ZSTD_compressStream2(impl_->cctx, &out, &in, ZSTD_e_continue);
    if (ZSTD_isError(r)) {
      return Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(r));
    }
    if (out.pos) LP_RETURN_IF_ERROR(sink({impl_->buf.data(), out.pos}));
  }
  return Status::OK();
}

Status FrameEncoder::Finish(const ByteSink& sink) {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer out{impl_->buf.data(), impl_->buf.size(), 0};
    size_t left = ZSTD_compressStream2(impl_->cctx, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(left)) {
      return Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(left));
    }
    if (out.pos) LP_RETURN_IF_ERROR(sink({impl_->buf.data(), out.pos}));
    if (left == 0) return Status::OK();
  }
}

namespace {

// A zstd context and output buffer. A fetch decodes thousands of small
// frames one after another on each thread; making a context and a 128 KiB
// buffer for each was a few percent of a cold activation.
struct DecodeContext {
  ZSTD_DCtx* dctx = nullptr;
  std::vector<char> buf;
  bool lent = false;  // in use by a live FrameDecoder of this thread
  DecodeContext() {
    dctx = ZSTD_createDCtx();
    // Refuse frames that need an absurd window (a decompression bomb shape).
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
    buf.resize(ZSTD_DStreamOutSize());
  }
  ~DecodeContext() { ZSTD_freeDCtx(dctx); }
  DecodeContext(const DecodeContext&) = delete;
  DecodeContext& operator=(const DecodeContext&) = delete;
};

// Each thread's reusable context, made on first use.
DecodeContext& ThreadContext() {
  thread_local DecodeContext ctx;
  return ctx;
}

}  // namespace

struct FrameDecoder::Impl {
  Codec codec;
  uint64_t expected;
  uint64_t produced = 0;
  std::string what;
  // The thread's context when it was free, else one of our own.
  DecodeContext* ctx = nullptr;
  std::unique_ptr<DecodeContext> own;
  ZSTD_DCtx* dctx = nullptr;
  bool frame_done = false;
};

FrameDecoder::FrameDecoder(Codec codec, uint64_t expected_size,
                           std::string what)
    : impl_(std::make_unique<Impl>()) {
  impl_->codec = codec;
  impl_->expected = expected_size;
  impl_->what = std::move(what);
  if (codec == Codec::kZstd) {
    DecodeContext& mine = ThreadContext();
    if (!mine.lent) {
      mine.lent = true;
      // A previous frame may have stopped midway: start clean.
      ZSTD_DCtx_reset(mine.dctx, ZSTD_reset_session_only);
      impl_->ctx = &mine;
    } else {
      impl_->own = std::make_unique<DecodeContext>();
      impl_->ctx = impl_->own.get();
    }
    impl_->dctx = impl_->ctx->dctx;
  }
}

FrameDecoder::~FrameDecoder() {
  if (impl_->ctx && !impl_->own) impl_->ctx->lent = false;
}

Status FrameDecoder::Feed(std::string_view in, const ByteSink& out) {
  Impl& d = *impl_;
  if (d.codec == Codec::kNone) {
    if (in.size() > d.expected - d.produced) {
      return Status::Corrupt(d.what + ": frame longer than its declared " +
                             std::to_string(d.expected) + " bytes");
    }
    d.produced += in.size();
    return out(in);
  }
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  while (ib.pos < ib.size) {
    if (d.frame_done) {
      return Status::Corrupt(d.what + ": bytes after the end of the frame");
    }
    ZSTD_outBuffer ob{d.ctx->buf.data(), d.ctx->buf.size(), 0};
    size_t r = ZSTD_decompressStream(d.dctx, &ob, &ib);
    if (ZSTD_isError(r)) {
      return Status::Corrupt(d.what + ": zstd: " + ZSTD_getErrorName(r));
    }
    if (ob.pos > d.expected - d.produced) {
      return Status::Corrupt(d.what + ": decompresses past its declared " +
                             std::to_string(d.expected) + " bytes");
    }
    d.produced += ob.pos;
    if (ob.pos) LP_RETURN_IF_ERROR(out({d.ctx->buf.data(), ob.pos}));
    if (r == 0) d.frame_done = true;
  }
  // Flush output still buffered inside zstd.
  while (!d.frame_done) {
    ZSTD_outBuffer ob{d.ctx->buf.data(), d.ctx->buf.size(), 0};
    size_t r = ZSTD_decompressStream(d.dctx, &ob, &ib);
    if (ZSTD_isError(r)) {
      return Status::Corrupt(d.what + ": zstd: " + ZSTD_getErrorName(r));
    }
    if (ob.pos > d.expected - d.produced) {
      return Status::Corrupt(d.what + ": decompresses past its declared " +
                             std::to_string(d.expected) + " bytes");
    }
    d.produced += ob.pos;
    if (ob.pos) LP_RETURN_IF_ERROR(out({d.ctx->buf.data(), ob.pos}));
    if (r == 0) d.frame_done = true;
    if (ob.pos < ob.size) break;  // zstd needs more input
  }
  return Status::OK();
}

Status FrameDecoder::Finish() {
  Impl& d = *impl_;
  if (d.codec == Codec::kZstd && !d.frame_done) {
    return Status::Corrupt(d.what + ": truncated zstd frame");
  }
  if (d.produced != d.expected) {
    return Status::Corrupt(d.what + ": decodes to " +
                           std::to_string(d.produced) + " bytes, declared " +
                           std::to_string(d.expected));
  }
  return Status::OK();
}

Result<std::string> DecodeFrame(Codec codec, std::string_view frame,
                                uint64_t expected_size,
                                const std::string& what) {
  std::string out;
  FrameDecoder dec(codec, expected_size, what);
  LP_RETURN_IF_ERROR(dec.Feed(frame, [&](std::string_view b) {
    out.append(b);
    return Status::OK();
  }));
  LP_RETURN_IF_ERROR(dec.Finish());
  return out;
}

}  // namespace lazypath
