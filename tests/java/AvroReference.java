// Checks casehub schemas and bytes with Apache Avro's Java reference implementation.
// Usage: java -cp 'avro-libs/*' AvroReference.java DIR
// DIR holds NAME.avsc (a self-contained schema) and, optionally, NAME.bin (one Avro body written by fastavro).
// For each schema: parse it; if a body is there, decode it and re-encode it, and require the same bytes.
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.file.Files;
import java.util.Arrays;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

public class AvroReference {
  public static void main(String[] args) throws Exception {
    File[] files = new File(args[0]).listFiles((d, n) -> n.endsWith(".avsc"));
    Arrays.sort(files);
    int failures = 0;
    for (File f : files) {
      String name = f.getName().substring(0, f.getName().length() - 5);
      try {
        Schema schema = new Schema.Parser().setValidateDefaults(true).parse(f);
        File bin = new File(f.getParentFile(), name + ".bin");
        if (bin.exists()) {
          byte[] in = Files.readAllBytes(bin.toPath());
          Object datum = new GenericDatumReader<Object>(schema).read(null, DecoderFactory.get().binaryDecoder(in, null));
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
          new GenericDatumWriter<Object>(schema).write(datum, enc);
          enc.flush();
          if (!Arrays.equals(in, out.toByteArray())) throw new IllegalStateException("re-encoded bytes differ");
          System.out.println("OK " + name + " parsed, decoded and re-encoded identically (" + schema.getFullName() + ")");
        } else {
          System.out.println("OK " + name + " parsed (" + schema.getFullName() + ")");
        }
      } catch (Exception e) {
        failures++;
        System.out.println("FAIL " + name + ": " + e);
      }
    }
    System.exit(failures == 0 ? 0 : 1);
  }
}
