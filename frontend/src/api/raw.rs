//! gRPC calls with messages already encoded. Each (request, response) pair of a generated
//! client compiles tonic's whole call path again (about 2 KB of gzipped wasm apiece, measured
//! on the admin app), so calls made through here share one copy: the messages are encoded and
//! decoded with prost by the caller (`Api::call`). New RPCs of the admin app go this way; its
//! wasm is at its size ceiling (`frontend/budget`).

use tonic::{
    Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    codegen::http::uri::PathAndQuery,
};

use super::Transport;

/// Passes the encoded message through.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        use prost::bytes::Buf;
        let mut all = vec![0; src.remaining()];
        src.copy_to_slice(&mut all);
        Ok(Some(all))
    }
}

/// The unary call `path` with the encoded request `body`; the encoded answer.
pub(super) async fn unary(
    transport: Transport,
    path: &'static str,
    body: Vec<u8>,
) -> Result<tonic::Response<Vec<u8>>, Status> {
    let mut grpc = tonic::client::Grpc::new(transport);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("the service was not ready: {e}")))?;
    grpc.unary(Request::new(body), PathAndQuery::from_static(path), Raw)
        .await
}
