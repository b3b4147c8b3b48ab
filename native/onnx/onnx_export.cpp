#include "onnx_export.h"

#include <set>
#include <variant>

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "aecodec/error.h"
#include "aecodec/ops.h"

#ifndef AEC_ONNX_VERSION
#define AEC_ONNX_VERSION "unknown"
#endif

namespace aec::onnx_export {

namespace {

using nlohmann::json;
using Dim = std::variant<int64_t, std::string>;  // a fixed size or a symbolic (dim_param) name

constexpr int kOpset = 13;
// IR 8 is what Debian's onnx 1.12 writes and its checker accepts; every current runtime reads it.
constexpr int kIrVersion = 8;

int64_t get(const json& j, const char* key) {
  return j.at(key).get<int64_t>();
}

void set_shape(onnx::ValueInfoProto* v, const std::string& name, const std::vector<Dim>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  for (const Dim& d : dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d))
      dim->set_dim_value(std::get<int64_t>(d));
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

void attr(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void attr(onnx::NodeProto* n, const char* name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void attr(onnx::NodeProto* n, const char* name, float value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

// Writes the nodes and initializers of one layer list into a graph. Value names follow the layer list
// ("encoder/3_gdn"), initializers keep the model file's tensor names, so a graph reads like the document.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto* g, const ModelFile& file) : g_(g), file_(file) {}

  void layers(const json& list, const std::string& where, const std::string& in, const std::string& out) {
    std::string x = in;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string op = list[i].at("op").get<std::string>();
      const std::string y = i + 1 == list.size() ? out : where + "/" + std::to_string(i) + "_" + op;
      layer(list[i], op, x, y);
      x = y;
    }
  }

 private:
  onnx::NodeProto* node(const char* op, const std::vector<std::string>& inputs, const std::string& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(out);
    return n;
  }

  // The model file's tensor (F16 widened, shape checked) as a float32 initializer of shape `dims`, which
  // holds the same number of elements (GDN's gamma becomes a 1x1 convolution kernel).
  std::string weight(const std::string& name, const std::vector<int64_t>& shape,
                     std::vector<int64_t> dims = {}) {
    const std::vector<float> v = file_.floats(name, shape);
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims.empty() ? shape : dims) t->add_dims(d);
    // raw_data is little-endian, as are the host (x86/arm) and the model file.
    t->set_raw_data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    return name;
  }

  std::string ints(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return name;
  }

  void layer(const json& j, const std::string& op, const std::string& x, const std::string& y) {
    if (op == aec::op::kConv2d || op == aec::op::kConvTranspose2d) {
      const bool transposed = op == aec::op::kConvTranspose2d;
      const std::string name = j.at("name").get<std::string>();
      const int64_t in = get(j, "in"), out = get(j, "out"), k = get(j, "kernel"), s = get(j, "stride"),
                    p = get(j, "padding");
      const std::string w = weight(name + ".weight", transposed ? std::vector<int64_t>{in, out, k, k}
                                                                : std::vector<int64_t>{out, in, k, k});
      const std::string b = weight(name + ".bias", {out});
      auto* n = node(transposed ? "ConvTranspose" : "Conv", {x, w, b}, y);
      attr(n, "kernel_shape", {k, k});
      attr(n, "strides", {s, s});
      attr(n, "pads", {p, p, p, p});
      if (transposed) {
        const int64_t opad = get(j, "output_padding");
        attr(n, "output_padding", {opad, opad});
      }
    } else if (op == aec::op::kGdn) {
      // sum_j gamma_ij x_j^2 + beta_i is a 1x1 convolution of x^2 with kernel gamma and bias beta.
      const std::string name = j.at("name").get<std::string>();
      const int64_t c = get(j, "channels");
      const std::string gamma = weight(name + ".gamma", {c, c}, {c, c, 1, 1});
      const std::string beta = weight(name + ".beta", {c});
      node("Mul", {x, x}, y + "/square");
      attr(node("Conv", {y + "/square", gamma, beta}, y + "/norm"), "kernel_shape", {1, 1});
      node("Sqrt", {y + "/norm"}, y + "/sqrt");
      node(j.value("inverse", false) ? "Mul" : "Div", {x, y + "/sqrt"}, y);
    } else if (op == aec::op::kLinear) {
      // Flatten keeps (C,H,W) order, as the core's linear does; the output is [1,out,1,1] like the core's.
      const std::string name = j.at("name").get<std::string>();
      const int64_t in = get(j, "in"), out = get(j, "out");
      const std::string w = weight(name + ".weight", {out, in});
      const std::string b = weight(name + ".bias", {out});
      attr(node("Flatten", {x}, y + "/flat"), "axis", int64_t(1));
      attr(node("Gemm", {y + "/flat", w, b}, y + "/gemm"), "transB", int64_t(1));
      node("Reshape", {y + "/gemm", ints(y + "/shape", {1, out, 1, 1})}, y);
    } else if (op == aec::op::kReshape) {
      const json& s = j.at("shape");
      node("Reshape",
           {x, ints(y + "/shape", {1, s[0].get<int64_t>(), s[1].get<int64_t>(), s[2].get<int64_t>()})}, y);
    } else if (op == aec::op::kSliceChannels) {
      node("Slice",
           {x, ints(y + "/starts", {get(j, "begin")}), ints(y + "/ends", {get(j, "end")}),
            ints(y + "/axes", {1})},
           y);
    } else if (op == aec::op::kRelu) {
      node("Relu", {x}, y);
    } else if (op == aec::op::kLeakyRelu) {
      // Same default as the core (model.cpp) when the document gives no slope.
      const float slope = j.contains("slope") && j["slope"].is_number() ? j["slope"].get<float>() : 0.01f;
      attr(node("LeakyRelu", {x}, y), "alpha", slope);
    } else if (op == aec::op::kSigmoid) {
      node("Sigmoid", {x}, y);
    } else if (op == aec::op::kTanh) {
      node("Tanh", {x}, y);
    } else {
      throw Error("op '" + op + "' has no ONNX translation");
    }
  }

  onnx::GraphProto* g_;
  const ModelFile& file_;
  std::set<std::string> written_;  // initializer names must be unique in a graph
};

std::string json_floats(const std::vector<float>& v) {
  return json(v).dump();
}

onnx::ModelProto make_model(const Model& model, const std::string& part, const std::string& in,
                            const std::vector<Dim>& in_dims, const std::string& out,
                            const std::vector<Dim>& out_dims) {
  const ModelInfo& info = model.info();
  const ModelFile& file = model.file();
  onnx::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("aecodec-onnx");
  m.set_producer_version(AEC_ONNX_VERSION);
  m.set_doc_string("aecodec model '" + info.name + "' (id " + info.id + ", arch " + info.arch + "): " + part);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  // What a runtime needs to quantise the latent and to know where the graph came from.
  const int64_t c = info.latent_channels;
  std::vector<std::pair<std::string, std::string>> props = {
      {"aecodec.name", info.name},
      {"aecodec.id", info.id},
      {"aecodec.arch", info.arch},
      {"aecodec.part", part},
      {"aecodec.stride", std::to_string(info.stride)},
      {"aecodec.latent_channels", std::to_string(c)},
      {"aecodec.entropy", info.entropy_kind},
  };
  if (model.hyperprior()) {
    // The quantiser needs the means of the integer hyper-synthesis: the graphs stop at y and start at y_hat,
    // and the core does everything between (aec::code_latent / aec::decode_latent).
    props.emplace_back("aecodec.quantizer",
                       "conditional_mean: y_hat = round(y - mean) + mean, the means from the model's integer "
                       "hyper-synthesis, computed by the aecodec core");
  } else {
    props.emplace_back("aecodec.latent_step", json_floats(file.floats("latent.step", {c})));
    props.emplace_back("aecodec.latent_offset", json_floats(file.floats("latent.offset", {c})));
  }
  for (const auto& [k, v] : props) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  auto* g = m.mutable_graph();
  g->set_name(info.name + "." + part);
  set_shape(g->add_input(), in, in_dims);
  set_shape(g->add_output(), out, out_dims);
  GraphWriter(g, file).layers(file.meta.at(part), part, in, out);
  return m;
}

}  // namespace

Graphs export_model(const Model& model) {
  const ModelInfo& info = model.info();
  const json& doc = model.file().meta;
  const int64_t c = info.latent_channels;
  std::vector<Dim> image, latent;
  if (info.fixed_width) {
    int lc = 3, lh = info.fixed_height, lw = info.fixed_width;
    model.encoder().output_shape(lc, lh, lw);
    image = {int64_t(1), int64_t(3), int64_t(info.fixed_height), int64_t(info.fixed_width)};
    latent = {int64_t(1), int64_t(lc), int64_t(lh), int64_t(lw)};
  } else {
    // Linear and reshape fix the spatial size, so a model with them must declare input.size.
    for (const char* part : {"encoder", "decoder"})
      for (const json& l : doc.at(part)) {
        const std::string op = l.at("op").get<std::string>();
        require(op != aec::op::kLinear && op != aec::op::kReshape,
                std::string(part) + " has a '" + op +
                    "' layer but the model has no input.size: cannot export "
                    "symbolic height and width");
      }
    image = {int64_t(1), int64_t(3), std::string("height"), std::string("width")};
    latent = {int64_t(1), c, std::string("latent_height"), std::string("latent_width")};
  }
  Graphs g;
  g.encoder = make_model(model, "encoder", "image", image, "latent", latent);
  g.decoder = make_model(model, "decoder", "latent", latent, "image", image);
  return g;
}

void validate(const onnx::ModelProto& graph, const std::string& what) {
  try {
    onnx::checker::check_model(graph);
    onnx::ModelProto inferred = graph;  // inference adds value_info: keep the written graph lean
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw Error(what + " graph fails ONNX validation: " + e.what());
  }
}

}  // namespace aec::onnx_export
