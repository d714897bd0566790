/**
 * A small typed builder for ONNX graphs, written with onnx-proto. Used to build the default
 * model and the tests' tiny BERT-shaped model; real models arrive as `model.onnx` files.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type DataType = 'float' | 'int64';
const DATA_TYPE: Record<DataType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A graph input or output: name, element type and shape (strings are symbolic dimensions). */
export interface ValueInfo {
  readonly name: string;
  readonly type: DataType;
  readonly shape: readonly (number | string)[];
}

type AttributeValue = number | number[] | string | { tensor: Float32Array; dims: number[] };

export class OnnxGraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  /** Adds a constant tensor; returns its name. */
  constant(name: string, values: Float32Array | BigInt64Array, dims: readonly number[]): string {
    const float = values instanceof Float32Array;
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: float ? DATA_TYPE.float : DATA_TYPE.int64,
        rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      }),
    );
    return name;
  }

  /** Adds a node; returns its (first) output name. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputName?: string,
  ): string {
    const output = outputName ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: [...inputs],
        output: [output],
        name: output,
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return output;
  }

  /** Serialises the model (opset 13). */
  build(
    inputs: readonly ValueInfo[],
    outputs: readonly ValueInfo[],
    metadata: Record<string, string> = {},
  ): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'ddb-faiss',
      opsetImport: [{ domain: '', version: 13 }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: onnx.GraphProto.create({
        name: 'ddb-faiss',
        node: this.nodes,
        initializer: this.initializers,
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value })
      : onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
  }
  if (typeof value === 'string')
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  const tensor = onnx.TensorProto.create({
    dims: value.dims,
    dataType: DATA_TYPE.float,
    rawData: new Uint8Array(value.tensor.buffer),
  });
  return onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t: tensor });
}

function valueInfo(info: ValueInfo): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: info.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[info.type],
        shape: { dim: info.shape.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  });
}
